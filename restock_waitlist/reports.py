"""Forecast reports: snapshots of :mod:`restock_waitlist.forecast` kept for the merchant.

Written after each wave and when a restock ends (what still waits, what to reorder), when an
item with waiters sells out, and daily for every item with waiters, mailed as one digest to
``REPORT_RECIPIENTS``. Each is one :class:`~restock_waitlist.models.ForecastReport` per item
and occasion, so the django-q2 tasks that write them can safely run twice.
"""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime

from restock_waitlist import forecast, services
from restock_waitlist.adapters import get_adapter, prefetch_catalog
from restock_waitlist.conf import app_settings
from restock_waitlist.jobs import enqueue
from restock_waitlist.models import ForecastReport, Notification, RestockEvent, StockWaitlist

Reason = ForecastReport.Reason
#: Times an after-wave report waits (queues itself again) for the wave's chunks to claim.
SETTLE_ATTEMPTS = 10


def _numbers(estimate):
    return {field: estimate[field] for field in ForecastReport.NUMBERS}


def write_report(product_key, variant_key, reason, occasion, event=None):
    """The item's report for this occasion: written now, or the one written before."""
    lookup = {
        "product_key": product_key,
        "variant_key": variant_key,
        "reason": reason,
        "occasion": occasion,
    }
    report = ForecastReport.objects.filter(**lookup).first()
    if report is None:
        numbers = _numbers(forecast.estimate_for(product_key, variant_key))
        report, _created = ForecastReport.objects.get_or_create(
            **lookup, defaults={"event": event, **numbers}
        )
    return report


def report_restock(event_id, reason, wave=None, attempt=0):
    """After a wave (``reason`` ``"wave"``) or at the end of a restock (``"restock_ended"``):
    what still waits for the item and what to reorder.

    The wave's chunks run on other workers, maybe at this very moment: until their claims
    are in (:func:`wave_settled`) the task queues itself again, behind them, at most
    :data:`SETTLE_ATTEMPTS` times, so the report does not count waiters about to be told.
    """
    event = RestockEvent.objects.filter(pk=event_id).first()
    if event is None:
        return None
    if attempt < SETTLE_ATTEMPTS and not wave_settled(event):
        enqueue("report_restock", event_id, reason, wave, attempt + 1)
        return None
    occasion = (
        f"restock {event.pk}, wave {wave}" if reason == Reason.WAVE else f"restock {event.pk}"
    )
    return write_report(event.product_key, event.variant_key, reason, occasion, event)


def wave_settled(event):
    """Whether the event's last wave has claimed the waiters it planned for: as many told in
    it as planned, nobody left waiting, or nothing left to sell (its chunks then stop)."""
    wave = event.waves.order_by("-number").first()
    if wave is None:
        return True
    told = (
        Notification.objects.filter(event=event, wave=wave.number)
        .values("subscriber_key")
        .distinct()
        .count()
    )
    if told >= wave.size:
        return True
    waiting = StockWaitlist.objects.waiting_for_restock(event.product_key, event.variant_key)
    if not waiting.exists():
        return True
    return get_adapter().available_quantity(event.product_key, event.variant_key) <= 0


def report_sold_out(product_key, variant_key, at):
    """An item's stock fell to zero at ``at`` (ISO 8601): a report if anyone waits for it."""
    if not services.has_waiters(product_key, variant_key):
        return None
    moment = parse_datetime(at) or timezone.now()
    occasion = moment.astimezone(timezone.get_default_timezone()).isoformat(timespec="seconds")
    return write_report(product_key, variant_key, Reason.SOLD_OUT, occasion)


def write_daily_reports(day=None):
    """Today's report for every item somebody waits for, from :func:`forecast.estimate_all`
    (a few queries in all), then the digest; returns the reports written by this call.

    Items already reported today are left alone, so a second run writes and mails nothing.
    """
    day = day or timezone.localdate()
    occasion = day.isoformat()
    done = set(
        ForecastReport.objects.filter(reason=Reason.DAILY, occasion=occasion).values_list(
            "product_key", "variant_key"
        )
    )
    reports = [
        ForecastReport(
            product_key=product_key,
            variant_key=variant_key,
            reason=Reason.DAILY,
            occasion=occasion,
            **_numbers(estimate),
        )
        for (product_key, variant_key), estimate in forecast.estimate_all().items()
        if (product_key, variant_key) not in done
    ]
    ForecastReport.objects.bulk_create(reports, ignore_conflicts=True)
    if reports:
        send_digest(reports, day)
    return reports


def send_digest(reports, day):
    """Mail the reports as one digest to ``REPORT_RECIPIENTS`` (nothing when unset), in the
    project's language, biggest reorder first."""
    recipients = list(app_settings.REPORT_RECIPIENTS or ())
    if not recipients:
        return 0
    prefetch_catalog(reports)
    ordered = sorted(reports, key=lambda r: (-r.recommended_restock_qty, r.catalog_label))
    with translation.override(settings.LANGUAGE_CODE):
        context = {"reports": ordered, "day": day, "LANGUAGE_CODE": translation.get_language()}
        subject = render_to_string("restock_waitlist/reports/digest_subject.txt", context)
        text = render_to_string("restock_waitlist/reports/digest.txt", context)
        html = render_to_string("restock_waitlist/reports/digest.html", context)
    message = EmailMultiAlternatives(" ".join(subject.split()), text, to=recipients)
    message.attach_alternative(html, "text/html")
    return message.send()
