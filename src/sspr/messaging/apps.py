from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "sspr.messaging"
    label = "messaging"
    verbose_name = "Messaging"
