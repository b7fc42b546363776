"""How dispatch decides: wave sizes, which channels to try, retries, quiet hours.

``RESTOCK_WAITLIST["POLICY"]`` names the class (default :class:`DefaultPolicy`);
``get_policy()`` returns an instance. A shop changes one decision by subclassing
:class:`DefaultPolicy` and overriding one method, as with the adapter. The engine in
:mod:`restock_waitlist.dispatch` keeps the mechanics (claiming, recording, enqueueing,
recovery) and asks the policy for every decision.
"""

import math
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone

from restock_waitlist import channels, forecast
from restock_waitlist.conf import app_settings


def get_policy():
    """An instance of the configured policy class."""
    return app_settings.imported("POLICY")()


@dataclass(frozen=True)
class WavePlan:
    """How many waiters a wave notifies, the rule that sized it and the numbers it used.

    Stored with the wave (:class:`~restock_waitlist.models.RestockWave`) and shown on the
    restock event.
    """

    size: int
    rule: str
    inputs: dict = field(default_factory=dict)


#: ``WavePlan.rule`` of a wave sized ``ceil(available × OVERSUBSCRIPTION)``.
OVERSUBSCRIPTION_RULE = "oversubscription"
#: ``WavePlan.rule`` of a wave sized from the item's measured conversion rate.
CONVERSION_RULE = "conversion"


class DefaultPolicy:
    """Today's rules: fixed oversubscription, channels in ``CHANNEL_ORDER``, exponential
    backoff, quiet hours in the waiter's time zone."""

    # Waves ---------------------------------------------------------------------------------

    def wave_size(self, event, available, wave):
        """How many waiters wave number ``wave`` of ``event`` notifies, with ``available``
        units in stock now: ``ceil(available × OVERSUBSCRIPTION)``."""
        return math.ceil(available * app_settings.OVERSUBSCRIPTION)

    def plan_wave(self, event, available, wave):
        """The :class:`WavePlan` of a wave. Override :meth:`wave_size` for the number alone,
        or this to record a rule of your own."""
        return WavePlan(
            size=max(0, int(self.wave_size(event, available, wave))),
            rule=OVERSUBSCRIPTION_RULE,
            inputs={"available": available, "oversubscription": app_settings.OVERSUBSCRIPTION},
        )

    # Channels ------------------------------------------------------------------------------

    def channels_for(self, entry):
        """The entry's channels the shop has enabled, in send order."""
        return channels.in_send_order(entry.channels or ())

    def first_channels(self, entry):
        """The channels a notification row is written for up front: the first one under
        ``CHANNEL_STRATEGY = "first_success"``, every one under ``"all"``."""
        names = self.channels_for(entry)
        return names if app_settings.CHANNEL_STRATEGY == "all" else names[:1]

    def next_channel(self, entry, failed_channel):
        """The channel to try after ``failed_channel`` failed for good, or ``None``."""
        if app_settings.CHANNEL_STRATEGY != "first_success":
            return None
        names = self.channels_for(entry)
        if failed_channel not in names:
            return None
        later = names[names.index(failed_channel) + 1 :]
        return later[0] if later else None

    # Retries -------------------------------------------------------------------------------

    def retry_at(self, notification, now):
        """When to try a transiently failed send again, or ``None`` to give up.

        ``notification.attempts`` counts the attempt that just failed: ``RETRY_BACKOFF ×
        2^(attempts − 1)`` later, up to ``MAX_ATTEMPTS`` attempts.
        """
        if notification.attempts >= app_settings.MAX_ATTEMPTS:
            return None
        return now + app_settings.RETRY_BACKOFF * 2 ** (notification.attempts - 1)

    # Quiet hours ---------------------------------------------------------------------------

    def quiet_until(self, entry, channel, now):
        """When quiet hours end for this waiter if ``channel`` (an instance) keeps them and
        ``now`` falls inside them; else ``None``."""
        window = parse_quiet_hours(app_settings.QUIET_HOURS)
        if window is None or not channel.quiet_hours:
            return None
        start, end = window
        zone = waiter_zone(entry)
        local = now.astimezone(zone)
        clock = local.time().replace(tzinfo=None)
        quiet = start <= clock < end if start < end else (clock >= start or clock < end)
        if not quiet:
            return None
        morning = datetime.combine(local.date(), end, tzinfo=zone)
        if morning <= local:
            morning = datetime.combine(local.date() + timedelta(days=1), end, tzinfo=zone)
        return morning.astimezone(timezone.get_default_timezone())


class AdaptivePolicy(DefaultPolicy):
    """Waves sized from the item's own conversion history instead of a fixed multiplier.

    With a measured rate (:func:`restock_waitlist.forecast.conversion_for`: the variant's,
    else the product's, else the shop's, each with at least ``FORECAST_MIN_SAMPLE`` waiters
    reached) a wave reaches ``ceil(available / CVR)`` waiters, so that about as many buy as
    there are units: never fewer than the units, never more than ``OVERSUBSCRIPTION_MAX ×``
    the units. With too little history it is :class:`DefaultPolicy`'s fixed
    ``OVERSUBSCRIPTION``. Either way the plan records the rate, its level and sample.
    """

    def plan_wave(self, event, available, wave):
        conversion = forecast.conversion_for(event.product_key, event.variant_key)
        history = {"cvr_level": conversion.level, "cvr_sample": conversion.sample}
        if conversion.level == forecast.DEFAULT_LEVEL:
            plan = super().plan_wave(event, available, wave)
            return WavePlan(plan.size, plan.rule, {**plan.inputs, **history})
        maximum = app_settings.OVERSUBSCRIPTION_MAX
        return WavePlan(
            size=adaptive_wave_size(available, conversion.rate, maximum),
            rule=CONVERSION_RULE,
            inputs={
                "available": available,
                "cvr": round(conversion.rate, 4),
                **history,
                "oversubscription_max": maximum,
            },
        )


def adaptive_wave_size(available, cvr, maximum):
    """``ceil(available / cvr)``, at least ``available`` and at most
    ``ceil(available × maximum)`` (also when nobody has bought yet: ``cvr`` 0)."""
    if available <= 0:
        return 0
    ceiling = math.ceil(available * maximum)
    if cvr <= 0:
        return ceiling
    return max(available, min(ceiling, forecast.round_up(available / cvr)))


def parse_quiet_hours(value):
    """``QUIET_HOURS`` as ``(start, end)`` times or ``None``; ``("21:00", "08:00")`` wraps."""
    if not value:
        return None
    start, end = (v if isinstance(v, time) else time.fromisoformat(v) for v in value)
    return start, end


def waiter_zone(entry):
    """The waiter's time zone, else the project's."""
    try:
        return ZoneInfo(entry.time_zone) if entry.time_zone else timezone.get_default_timezone()
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.get_default_timezone()
