"""The waitlist's domain logic. Views, the API, the admin, receivers, tasks and template
tags call these functions and do no waitlist work of their own.
"""

import contextlib
import logging
from dataclasses import replace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, router, transaction
from django.db.models import Q
from django.db.models.signals import post_save, pre_save
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from restock_waitlist import addresses, contacts, limits, signals
from restock_waitlist import channels as registry
from restock_waitlist.adapters import ItemReading, get_adapter
from restock_waitlist.addresses import normalize_email
from restock_waitlist.channels.base import CONFIRM, ChannelError, Outgoing, Result
from restock_waitlist.conf import app_settings
from restock_waitlist.contacts import recipient_email
from restock_waitlist.jobs import enqueue, enqueue_on_commit
from restock_waitlist.models import Notification, Purchase, RestockEvent, StockWaitlist
from restock_waitlist.prepared import Bind, prepared
from restock_waitlist.statements import insert_if_exists, insert_row

logger = logging.getLogger("restock_waitlist")

Status = StockWaitlist.Status
CancelledBy = StockWaitlist.CancelledBy
#: Entries a shopper can still cancel; purchased ones stay purchased.
CANCELLABLE = (Status.PENDING, Status.WAITING, Status.NOTIFIED)
#: ``Notification.error`` of a send that was still queued when its entry was cancelled.
CANCELLED_NOTE = "Cancelled: the waiter left the waitlist."


# Validation ---------------------------------------------------------------------------


def normalize_phone(phone):
    """A phone number in E.164 form (``+821012345678``), read with ``PHONE_REGION``; raises
    ``ValidationError`` naming ``phone``. See :mod:`restock_waitlist.addresses`."""
    return addresses.normalize_phone(phone, app_settings.PHONE_REGION)


def normalize_channels(channels, *, user, email, phone):
    """The requested channels in send order, checked against the shop's channels and against
    what the subscriber gave (a channel with nothing to send to is refused, naming the field).
    """
    enabled = registry.enabled_names()
    if channels is None:
        channels = [c for c in app_settings.DEFAULT_CHANNELS if c in enabled] or enabled[:1]
    if isinstance(channels, str) or not isinstance(channels, (list, tuple, set, frozenset)):
        raise ValidationError({"channels": _("Give a list of channels.")}, code="invalid")
    unknown = [c for c in channels if c not in enabled]
    if unknown:
        raise ValidationError(
            {
                "channels": _("Unknown or disabled channel: %(names)s. Choose from: %(choices)s.")
                % {"names": ", ".join(map(str, unknown)), "choices": ", ".join(enabled)}
            },
            code="invalid_choice",
        )
    if not channels:
        raise ValidationError({"channels": _("Choose at least one channel.")}, code="required")
    chosen = registry.in_send_order(channels)
    for name in chosen:
        registry.get_channel(name).check_subscriber(user=user, email=email, phone=phone)
    return chosen


def normalize_locale(locale):
    """A language the project supports, for the subscriber's messages."""
    try:
        return translation.get_supported_language_variant(locale or translation.get_language())
    except LookupError as exc:
        raise ValidationError(
            {"locale": _("Unsupported language: %(locale)s.") % {"locale": locale}},
            code="invalid",
        ) from exc


def normalize_time_zone(name):
    """An IANA time zone name (quiet hours are kept in the subscriber's time zone)."""
    if not name:
        return timezone.get_current_timezone_name()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValidationError(
            {"time_zone": _("Unknown time zone: %(name)s.") % {"name": name}}, code="invalid"
        ) from exc
    return name


def resolve_item(product, variant=None):
    """``(product_key, variant_key)`` for an instance or key pair; checks both exist and match."""
    return _checked_item(product, variant, stock=False)[:2]


def _checked_item(product, variant, *, stock):
    """``(product_key, variant_key, available quantity or None)``, both checked to exist and
    match, the quantity read only with ``stock``. Keys are read in one statement
    (:meth:`~restock_waitlist.adapters.DefaultAdapter.read_item`); an instance is not looked
    up, only the product a variant instance belongs to is checked."""
    adapter = get_adapter()
    product_key = adapter.product_key(product)
    variant_key = adapter.variant_key(variant)
    if hasattr(product, "pk") or hasattr(variant, "pk"):
        reading = _instance_reading(adapter, product, variant, product_key, variant_key)
        if stock and reading.variant_of_product:
            available = adapter.available_quantity(product_key, variant_key)
            reading = replace(reading, available=available)
    else:
        reading = adapter.read_item(product_key, variant_key, stock=stock)
    if not reading.product_found:
        raise ValidationError({"product": _("No such product.")}, code="does_not_exist")
    if variant_key and not reading.variant_found:
        raise ValidationError({"variant": _("No such variant.")}, code="does_not_exist")
    if not reading.variant_of_product:
        raise ValidationError(
            {"variant": _("This variant belongs to another product.")}, code="invalid"
        )
    return product_key, variant_key, reading.available


def _instance_reading(adapter, product, variant, product_key, variant_key):
    """The :class:`~restock_waitlist.adapters.ItemReading` of an item given as instances
    (or one instance and one key), without the stock."""
    if not hasattr(product, "pk") and adapter.get_product(product_key) is None:
        return ItemReading(product_found=False)
    if not variant_key:
        return ItemReading(True, False, True)
    if not hasattr(variant, "pk"):
        variant = adapter.get_variant(variant_key)
        if variant is None:
            return ItemReading(True)
    return ItemReading(True, True, adapter.product_key_of_variant(variant) == product_key)


def subscriber_key_for(user, email):
    """``user:<pk>``, or ``email:<key>`` with the one email normalisation
    (:func:`restock_waitlist.addresses.email_key`)."""
    return f"user:{user.pk}" if user is not None else addresses.email_subscriber_key(email)


#: The range a tier is stored in (``SmallIntegerField``, as PostgreSQL and MySQL store it).
TIER_RANGE = (-32768, 32767)


def tier_for(user):
    """The user's tier from the adapter (``PRIORITY``). A priority that fails or returns a
    tier the database cannot store is logged and gives the default tier: a join never fails
    for it."""
    default = StockWaitlist._meta.get_field("tier").default
    try:
        tier = int(get_adapter().priority_for(user))
    except Exception:
        logger.exception(
            "RESTOCK_WAITLIST['PRIORITY'] failed for user %s; the entry gets tier %s.",
            getattr(user, "pk", None),
            default,
        )
        return default
    low, high = TIER_RANGE
    if not low <= tier <= high:
        logger.error(
            "RESTOCK_WAITLIST['PRIORITY'] gave tier %s for user %s, outside %s..%s; "
            "the entry gets tier %s.",
            tier,
            getattr(user, "pk", None),
            low,
            high,
            default,
        )
        return default
    return tier


# Joining and leaving --------------------------------------------------------------------


def join_waitlist(
    product,
    variant=None,
    *,
    user=None,
    email=None,
    phone=None,
    channels=None,
    locale=None,
    timezone_name=None,
    consent=False,
    consent_source="",
    enforce_limits=True,
):
    """Put a shopper in line for a product, or one variant of it; returns ``(entry, created)``.

    Idempotent: a repeat join, or a concurrent double submit, returns the one active entry
    with ``created=False``. Bad input raises ``ValidationError`` naming the field and
    writes nothing. A guest must give ``consent=True`` (they ticked the box whose wording
    is ``CONSENT_VERSION``); ``consent_source`` names the form or ``"api"``.

    A guest's new entry may be held back by the per-address limits
    (:func:`guest_join_allowed`): the answer is then ``(None, False)``, and callers answer the
    guest exactly as for any other join, so nobody learns whether an address is subscribed
    or limited. Trusted code (an import of subscribers who already confirmed elsewhere)
    passes ``enforce_limits=False``.
    """
    if isinstance(user, AnonymousUser):
        user = None
    if user is None and not email:
        raise ValidationError(
            {"email": _("An email address is required to join without an account.")},
            code="required",
        )
    email = normalize_email(email) if email else ""
    phone = normalize_phone(phone) if phone else ""
    if user is None and consent is not True:
        raise ValidationError({"consent": consent_required_message()}, code="required")
    channels = normalize_channels(channels, user=user, email=email, phone=phone)
    locale = normalize_locale(locale)
    time_zone = normalize_time_zone(timezone_name)
    check_stock = not app_settings.ALLOW_JOIN_IN_STOCK and get_adapter().stock_model is not None
    product_key, variant_key, available = _checked_item(product, variant, stock=check_stock)
    subscriber_key = subscriber_key_for(user, email)

    # Stock is checked before looking for an existing entry, so the answer for an item in
    # stock never tells whether an address is on its waitlist.
    if check_stock and available > 0:
        field = "variant" if variant_key else "product"
        raise ValidationError({field: _("This item is in stock right now.")}, code="in_stock")

    limited = user is None and enforce_limits
    existing, pending = _entries_in_the_way(
        subscriber_key, product_key, variant_key, count_pending=limited
    )
    if existing is not None:
        return existing, False
    if limited and not guest_join_allowed(email, pending):
        return None, False

    now = timezone.now()
    entry = StockWaitlist(
        product_key=product_key,
        variant_key=variant_key,
        user=user,
        email=email,
        phone=phone,
        subscriber_key=subscriber_key,
        channels=channels,
        tier=tier_for(user),
        status=Status.PENDING if needs_confirmation(user) else Status.WAITING,
        locale=locale,
        time_zone=time_zone,
        created_at=now,
        consent_at=now,
        consent_source=consent_source,
        consent_version=app_settings.CONSENT_VERSION,
    )
    try:
        _save_new(entry)
    except IntegrityError:
        # A concurrent join won the race for the one active entry: return it.
        existing = _active_entry(subscriber_key, product_key, variant_key)
        if existing is None:
            raise
        return existing, False
    signals.send_on_commit(signals.waitlist_joined, sender=StockWaitlist, entry=entry)
    if entry.status == Status.PENDING:
        request_confirmation(entry)
    return entry, True


def consent_required_message():
    return _("Tick the box to agree to the restock alert.")


def guest_join_allowed(email, pending):
    """Whether a guest may get a new entry for this address: fewer than
    ``MAX_PENDING_PER_ADDRESS`` unconfirmed ones (``pending``, from
    :func:`_entries_in_the_way`), and within the ``restock_waitlist_address`` rate. Each new
    guest entry sends one confirmation email, so this bounds the mail an address can be sent
    by strangers."""
    if pending is not None and pending >= app_settings.MAX_PENDING_PER_ADDRESS:
        logger.warning("A guest join was held back: %s unconfirmed entries.", pending)
        return False
    if not limits.new_guest_entry(addresses.email_key(email)).allowed:
        logger.warning("A guest join was held back: the address's rate is used up.")
        return False
    return True


def needs_confirmation(user):
    """Guests confirm by email first (double opt-in) unless ``GUEST_DOUBLE_OPT_IN`` is off."""
    return user is None and app_settings.GUEST_DOUBLE_OPT_IN


def request_confirmation(entry):
    """Queue the confirmation email for a pending entry, once the transaction commits."""
    enqueue_on_commit("send_confirmation", str(entry.pk))


def send_confirmation(entry_id):
    """Email a guest the link that confirms their pending entry; whether it was sent.

    Sent once: the entry is locked while the mail goes out and marked sent in the same
    transaction, so a task run twice mails once, and a worker that dies mid-send leaves it
    unmarked for :func:`send_due_confirmations`. The mail goes through the first channel
    that sends to email addresses (its options and templates), else a plain email channel.
    """
    with transaction.atomic():
        entry = (
            StockWaitlist.objects.select_for_update(of=("self",))
            .select_related("user")
            .filter(pk=entry_id, status=Status.PENDING, confirmation_sent_at=None)
            .first()
        )
        if entry is None:
            return False
        message = Outgoing(None, entry, None, recipient_email(entry), kind=CONFIRM)
        result = registry.channel_for_kind(contacts.EMAIL).send_batch([message])[None]
        if result.outcome == Result.TRANSIENT:
            raise ChannelError(f"Confirmation for entry {entry.pk} not sent: {result.error}")
        StockWaitlist.objects.filter(pk=entry.pk).update(confirmation_sent_at=timezone.now())
    return result.outcome == Result.SENT


def send_due_confirmations():
    """Periodic: queue the confirmation of pending entries whose mail never went out (the
    worker died, the provider was down); returns how many."""
    now = timezone.now()
    due = StockWaitlist.objects.filter(
        status=Status.PENDING,
        confirmation_sent_at=None,
        created_at__lt=now - app_settings.STUCK_AFTER,
        created_at__gte=now - app_settings.CONFIRMATION_EXPIRY,
    ).values_list("pk", flat=True)
    count = 0
    for entry_id in due.iterator():
        enqueue("send_confirmation", str(entry_id))
        count += 1
    return count


def confirm_entry(entry_id):
    """Move a guest's pending entry into line; returns the entry, ``None`` if unknown.

    Confirming twice is harmless; the place in line counts from the join. An entry not
    confirmed within ``CONFIRMATION_EXPIRY`` expires instead and is never notified.
    """
    now = timezone.now()
    deadline = now - app_settings.CONFIRMATION_EXPIRY
    pending = StockWaitlist.objects.filter(pk=entry_id, status=Status.PENDING)
    confirmed = pending.filter(created_at__gte=deadline).update(
        status=Status.WAITING, confirmed_at=now
    )
    if not confirmed:
        pending.update(status=Status.EXPIRED)
    return StockWaitlist.objects.filter(pk=entry_id).first()


def expire_unconfirmed():
    """Expire pending entries older than ``CONFIRMATION_EXPIRY``; returns how many."""
    deadline = timezone.now() - app_settings.CONFIRMATION_EXPIRY
    return StockWaitlist.objects.filter(status=Status.PENDING, created_at__lt=deadline).update(
        status=Status.EXPIRED
    )


def address_filter(email):
    """``Q`` for every entry of one email address: guests' entries under it (subscriber
    key), entries that stored it, and the entries of accounts whose address it is. The one
    look-up by address: unsubscribe-all, export and erasure use it."""
    query = Q(subscriber_key=addresses.email_subscriber_key(email))
    for spelling in addresses.email_spellings(email):
        query |= Q(email__iexact=spelling) | Q(user__email__iexact=spelling)
    return query


def leave_all_for_email(email):
    """Cancel every open entry of one email address (guest or account); returns how many."""
    try:
        query = address_filter(email)
    except ValidationError:
        return 0
    return cancel_entries(StockWaitlist.objects.filter(query), by=CancelledBy.SHOPPER)


def leave_all_of(entry):
    """Cancel every open entry of this entry's subscriber and email address (the
    unsubscribe-all link names one entry); returns how many."""
    query = Q(subscriber_key=entry.subscriber_key)
    address = recipient_email(entry)
    if address:
        with contextlib.suppress(ValidationError):
            query |= address_filter(address)
    return cancel_entries(StockWaitlist.objects.filter(query), by=CancelledBy.SHOPPER)


def cancel_entries(entries, *, by):
    """The one way entries are cancelled: the cancellable entries of a queryset, in one
    ``UPDATE``; ``waitlist_left`` is sent for each once the transaction commits. ``by`` is
    :class:`StockWaitlist.CancelledBy` (a shopper's cancel can never be re-opened by a
    merchant). Returns how many were cancelled; cancelling twice is harmless.
    """
    now = timezone.now()
    with transaction.atomic():
        ids = list(entries.filter(status__in=CANCELLABLE).values_list("pk", flat=True))
        if not ids:
            return 0
        StockWaitlist.objects.filter(pk__in=ids, status__in=CANCELLABLE).update(
            status=Status.CANCELLED, cancelled_at=now, cancelled_by=by
        )
        # The rows this call cancelled carry its timestamp; a concurrent cancel's do not.
        cancelled = list(
            StockWaitlist.objects.filter(pk__in=ids, status=Status.CANCELLED, cancelled_at=now)
        )
        # Nothing not yet sent goes out: queued retries and quiet-hour holds are cancelled
        # (a send already claimed is in flight; the claim skips rows of cancelled entries).
        Notification.objects.filter(
            entry__in=[entry.pk for entry in cancelled], status=Notification.Status.QUEUED
        ).update(
            status=Notification.Status.CANCELLED,
            next_attempt_at=None,
            error=CANCELLED_NOTE,
            updated_at=now,
        )
        for entry in cancelled:
            signals.send_on_commit(signals.waitlist_left, sender=StockWaitlist, entry=entry)
    return len(cancelled)


#: Entries a merchant may put back in line: told already, or cancelled by a merchant.
REOPENABLE = Q(status=Status.NOTIFIED) | Q(
    status=Status.CANCELLED, cancelled_by=StockWaitlist.CancelledBy.MERCHANT
)


def reopen_entries(entries):
    """Put entries back in line at the place they joined; returns how many.

    Only entries a merchant may re-open (:data:`REOPENABLE`): a shopper's own cancel, an
    unconfirmed guest and a purchase stay as they are, and so does an entry whose
    subscriber has joined the same item again since.
    """
    reopened = 0
    for entry in entries.filter(REOPENABLE).order_by():
        try:
            with transaction.atomic():
                reopened += (
                    StockWaitlist.objects.filter(pk=entry.pk)
                    .filter(REOPENABLE)
                    .update(
                        status=Status.WAITING,
                        cancelled_at=None,
                        cancelled_by="",
                        notified_at=None,
                        notified_by=None,
                    )
                )
        except IntegrityError:
            continue  # the subscriber has another active entry for this item
    return reopened


def _active_entry(subscriber_key, product_key, variant_key):
    return _entries_in_the_way(subscriber_key, product_key, variant_key, count_pending=False)[0]


def _entries_in_the_way(subscriber_key, product_key, variant_key, *, count_pending):
    """``(the subscriber's active entry for the item or None, how many of their entries
    await confirmation within CONFIRMATION_EXPIRY)``, in one query over the subscriber's
    active rows: the item's, and the unconfirmed ones, which ``MAX_PENDING_PER_ADDRESS``
    keeps to a handful. The count is ``None`` without ``count_pending`` or when the cap
    does not apply."""
    count_pending = (
        count_pending
        and app_settings.MAX_PENDING_PER_ADDRESS is not None
        and needs_confirmation(None)
    )
    since = timezone.now() - app_settings.CONFIRMATION_EXPIRY
    rows = _entries_query(count_pending).instances(
        subscriber_key=subscriber_key, product_key=product_key, variant_key=variant_key, since=since
    )
    existing, pending = None, 0
    for row in rows:
        if row.product_key == product_key and row.variant_key == variant_key:
            existing = row
        if row.status == Status.PENDING and row.created_at >= since:
            pending += 1
    return existing, (pending if count_pending else None)


def _entries_query(with_pending):
    """:func:`_entries_in_the_way`'s query, compiled once per connection
    (:mod:`restock_waitlist.prepared`)."""
    using = router.db_for_read(StockWaitlist)

    def build():
        field = StockWaitlist._meta.get_field
        rows = Q(
            product_key=Bind("product_key", field("product_key")),
            variant_key=Bind("variant_key", field("variant_key")),
        )
        if with_pending:
            rows |= Q(status=Status.PENDING, created_at__gte=Bind("since", field("created_at")))
        subscriber = Bind("subscriber_key", field("subscriber_key"))
        return StockWaitlist.objects.active().filter(rows, subscriber_key=subscriber).order_by()

    return prepared(("entries_in_the_way", with_pending), build, using=using)


def _save_new(entry):
    """``entry.save(force_insert=True)`` in a transaction (a savepoint inside one), so that an
    ``IntegrityError`` leaves it usable and what ``pre_save``/``post_save`` receivers write
    commits or rolls back with the row. In autocommit with no such receiver the lone
    ``INSERT`` needs neither, and ``BEGIN`` and ``COMMIT`` (two round trips) are spared, and
    so is the ORM's building of it (:func:`~restock_waitlist.statements.insert_row`)."""
    using = router.db_for_write(StockWaitlist, instance=entry)
    if (
        transaction.get_connection(using).in_atomic_block
        or pre_save.has_listeners(StockWaitlist)
        or post_save.has_listeners(StockWaitlist)
    ):
        with transaction.atomic(using=using):
            entry.save(force_insert=True, using=using)
    else:
        insert_row(entry, using)


def get_entry_for(entry_id, *, user=None):
    """The entry with this id, if ``user`` (when given) owns it; ``DoesNotExist`` otherwise.

    Someone else's entry raises exactly what a missing one does.
    """
    entries = StockWaitlist.objects.all()
    if user is not None:
        entries = entries.filter(user=user)
    try:
        return entries.get(pk=entry_id)
    except (ValidationError, ValueError) as exc:
        raise StockWaitlist.DoesNotExist("No such waitlist entry.") from exc


def leave_waitlist(entry, *, user=None):
    """Cancel an entry (an instance or its id) for its shopper; cancelling twice is harmless.

    With ``user``, an entry that is not theirs raises ``ObjectDoesNotExist`` as a missing
    one would. Purchased entries stay purchased.
    """
    entry_id = entry.pk if isinstance(entry, StockWaitlist) else entry
    if isinstance(user, AnonymousUser):
        raise StockWaitlist.DoesNotExist("No such waitlist entry.")
    current = get_entry_for(entry_id, user=user)
    cancel_entries(StockWaitlist.objects.filter(pk=current.pk), by=CancelledBy.SHOPPER)
    current.refresh_from_db(fields=["status", "cancelled_at", "cancelled_by"])
    if isinstance(entry, StockWaitlist):
        entry.status, entry.cancelled_at = current.status, current.cancelled_at
        entry.cancelled_by = current.cancelled_by
    return current


def waitlist_position(entry):
    """The entry's 1-based place among waiting entries of its product/variant, else ``None``.

    Dispatch order: higher tier first, then earlier join. A pending entry gets the place
    it will take once confirmed.
    """
    return StockWaitlist.objects.position_of(entry)


# Restocks -----------------------------------------------------------------------------


def has_waiters(product_key, variant_key=""):
    """Whether anyone waits for this item (its own entries or product-wide ones): one
    probe of the dispatch index, however long the waitlist and its history (the merchant's
    stock ``save()`` asks)."""
    return bool(StockWaitlist.objects.head_of_queue(product_key, variant_key, 1))


def record_restock(product, variant=None, quantity=None, *, previous_quantity=None, source=None):
    """Record that an item is available again and announce it once the transaction commits.

    For imports and ``QuerySet.update()``, which bypass ``post_save``. ``quantity``
    defaults to the stock model's current sum for the item.
    """
    product_key, variant_key = resolve_item(product, variant)
    if quantity is None:
        quantity = get_adapter().available_quantity(product_key, variant_key)
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        raise ValidationError({"quantity": _("Give a whole number.")}, code="invalid")
    return _create_restock_event(
        product_key,
        variant_key,
        quantity,
        previous_quantity,
        source or RestockEvent.Source.RECORDED,
    )


def detect_restock(product_key, variant_key, before, after):
    """Record a restock when an item's stock rose from none to some and people wait for it."""
    if before > 0 or after <= 0:
        return None
    using = router.db_for_write(RestockEvent)
    waiters = StockWaitlist.objects.db_manager(using).anyone_waiting_sql(product_key, variant_key)
    return _create_restock_event(
        product_key, variant_key, after, before, RestockEvent.Source.STOCK_SAVE, if_any=waiters
    )


def _create_restock_event(
    product_key, variant_key, quantity, previous_quantity, source, *, if_any=None
):
    """The new event, announced on commit; ``None`` when ``if_any`` (a queryset, or its
    ``(sql, params)``) has no row, checked in the same statement as the insert."""
    event = RestockEvent(
        product_key=product_key,
        variant_key=variant_key,
        quantity=quantity,
        previous_quantity=previous_quantity,
        source=source,
    )
    if if_any is None:
        event.save(force_insert=True)
    elif not insert_if_exists(event, if_any):
        return None
    signals.send_on_commit(signals.restock_detected, sender=RestockEvent, event=event)
    return event


def detect_sell_out(product_key, variant_key, before, after):
    """Queue a forecast report when an item's stock fell from some to none (the task checks
    that anyone waits). No query here: the merchant's ``save()`` pays nothing for it."""
    if before > 0 >= after:
        enqueue_on_commit("report_sold_out", product_key, variant_key, timezone.now().isoformat())


# Clicks and purchases -----------------------------------------------------------------


def record_click(notification_id, at=None):
    """Note the first click on a notification's purchase link (later ones change nothing);
    the notification with its restock, or ``None`` if there is no such notification."""
    notification = Notification.objects.select_related("event").filter(pk=notification_id).first()
    if notification is not None and notification.clicked_at is None:
        at = at or timezone.now()
        first = Notification.objects.filter(pk=notification.pk, clicked_at__isnull=True)
        if first.update(clicked_at=at):
            notification.clicked_at = at
    return notification


def record_purchase(
    product, variant=None, *, user=None, email=None, order_ref, quantity=1, at=None
):
    """Credit a purchase to the restock alert that won it back; the entry credited, or ``None``.

    The entry credited is the buyer's (``user``, or ``email``: an account with that address
    counts too) for this item, the variant's own or "any variant", that an alert reached
    within ``ATTRIBUTION_WINDOW`` before ``at`` (default now) and that is still ``notified``.
    It becomes ``purchased``, with the buyer's other entries the same alert reached. Any
    other purchase is recorded as not attributed and counts in no conversion rate.

    Idempotent: one record per ``order_ref`` and item. Calling again (a re-saved order, a
    task run twice) credits nothing more and returns what the first call credited.
    """
    if isinstance(user, AnonymousUser):
        user = None
    order_ref = "" if order_ref is None else str(order_ref).strip()
    if not order_ref or len(order_ref) > 255:
        raise ValidationError(
            {"order_ref": _("Give the order's reference (at most 255 characters).")},
            code="invalid",
        )
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        raise ValidationError({"quantity": _("Give a whole number of at least 1.")}, code="invalid")
    at = at or timezone.now()
    adapter = get_adapter()
    item = {
        "order_ref": order_ref,
        "product_key": adapter.product_key(product),
        "variant_key": adapter.variant_key(variant),
    }
    recorded = Purchase.objects.select_related("entry").filter(**item).first()
    if recorded is None:
        try:
            with transaction.atomic():
                entry = _credit_purchase(item["product_key"], item["variant_key"], user, email, at)
                Purchase.objects.create(
                    **item,
                    quantity=quantity,
                    purchased_at=at,
                    attributed=entry is not None,
                    entry=entry,
                    user=user,
                )
            return entry
        except IntegrityError:
            # A concurrent call recorded this order and item first; its credit stands.
            recorded = Purchase.objects.select_related("entry").get(**item)
    return recorded.entry if recorded.attributed else None


def _credit_purchase(product_key, variant_key, user, email, at):
    """Mark the buyer's reached entry for the item purchased; the entry, or ``None``."""
    keys, subscribers = set(), Q(pk__in=[])
    if user is not None:
        keys.add(subscriber_key_for(user, None))
        if user.email:
            keys.add(subscriber_key_for(None, user.email.strip()))
    if email and email.strip():
        keys.add(subscriber_key_for(None, email.strip()))
        subscribers |= Q(user__email__iexact=email.strip())
    if not keys:
        return None
    window = app_settings.ATTRIBUTION_WINDOW
    candidates = StockWaitlist.objects.reached().filter(
        subscribers | Q(subscriber_key__in=keys),
        status=Status.NOTIFIED,
        product_key=product_key,
        notified_at__gte=at - window,
        notified_at__lte=at,
    )
    if variant_key:
        candidates = candidates.filter(variant_key__in=[variant_key, ""])
    # The latest alert; of one subscriber's two entries, the variant's own before "any variant".
    entry = candidates.order_by("-notified_at", "-variant_key", "pk").first()
    if entry is None:
        return None
    purchased = {"status": Status.PURCHASED, "purchased_at": at}
    if not StockWaitlist.objects.filter(pk=entry.pk, status=Status.NOTIFIED).update(**purchased):
        return None  # a concurrent purchase took this credit
    if entry.notified_by_id is not None:
        StockWaitlist.objects.filter(
            subscriber_key=entry.subscriber_key,
            notified_by_id=entry.notified_by_id,
            status=Status.NOTIFIED,
        ).update(**purchased)
    entry.status, entry.purchased_at = Status.PURCHASED, at
    return entry


def record_order(order_pk):
    """:func:`record_purchase` for one order of ``ORDER_MODEL``, read through the adapter
    (``purchase_from_order``); the entry credited, or ``None``."""
    model = app_settings.model("ORDER_MODEL")
    order = model._default_manager.filter(pk=order_pk).first() if model is not None else None
    purchase = get_adapter().purchase_from_order(order) if order is not None else None
    return record_purchase(**purchase) if purchase is not None else None


# Data rights ----------------------------------------------------------------------------

#: Defined in :mod:`restock_waitlist.privacy`, which builds on this module.
PRIVACY_FUNCTIONS = ("export_subscriber_data", "erase_subscriber_data", "purge_old_records")


def __getattr__(name):
    """``services.export_subscriber_data`` and friends, from :mod:`restock_waitlist.privacy`."""
    if name in PRIVACY_FUNCTIONS:
        from restock_waitlist import privacy

        return getattr(privacy, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
