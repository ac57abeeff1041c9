"""Phone (SMS and voice) providers: one small class each, chosen by `settings.PHONE_PROVIDER`."""
