from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RestockWaitlistConfig(AppConfig):
    name = "restock_waitlist"
    verbose_name = _("Restock waitlist")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from restock_waitlist import checks, receivers

        checks.register()
        receivers.connect()
