from django.apps import AppConfig


class PolicyConfig(AppConfig):
    name = "sspr.policy"
    label = "policy"
    verbose_name = "Policy"

    def ready(self) -> None:
        from django.utils.translation import gettext

        from sspr.policy.rules import base

        base.use_translation(gettext)
