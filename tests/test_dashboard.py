"""The demand dashboard and the forecast reports in the admin: exact numbers on a known data
set, permissions, constant queries, the merchant's time zone and language, the CSV download."""

import csv
import io
from datetime import datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from restock_waitlist import dashboard
from restock_waitlist.models import (
    ForecastReport,
    Notification,
    RestockEvent,
    RestockWave,
    StockWaitlist,
)
from tests import factories
from tests.test_admin import staff_with

pytestmark = pytest.mark.django_db

Status = StockWaitlist.Status
SendStatus = Notification.Status
DASHBOARD = "admin:restock_waitlist_dashboard"
ZONE = "Asia/Seoul"


@pytest.fixture
def merchant_settings(settings):
    """The merchant works in Seoul; the shop names tier 1 "VIP"."""
    settings.TIME_ZONE = ZONE
    settings.RESTOCK_WAITLIST = {
        **settings.RESTOCK_WAITLIST,
        "ADAPTER": "tests.testshop.priority.NamedTiersAdapter",
    }
    timezone.activate(ZONE)
    with translation.override("en"):  # whatever an earlier request left active
        yield settings
    timezone.deactivate()


def local_noon(days_ago):
    """Noon in Seoul ``days_ago`` days before today (Seoul's today)."""
    day = timezone.localdate(timezone=timezone.get_current_timezone()) - timedelta(days=days_ago)
    return timezone.make_aware(datetime.combine(day, time(12)))


def entry(variant, *, days_ago, product=None, guest=None, user=None, **fields):
    """An entry joined at noon ``days_ago`` days ago; a guest's when ``guest`` names them."""
    user = user if guest is None else None
    email = f"{guest}@example.com" if guest else ""
    values = {
        "product_key": str(product.pk if product else variant.product_id),
        "variant_key": "" if product else str(variant.pk),
        "user": user,
        "email": email,
        "subscriber_key": f"email:{email}" if guest else f"user:{user.pk}",
        "channels": ["email"],
        "created_at": local_noon(days_ago),
        **fields,
    }
    return StockWaitlist.objects.create(**values)


def send(entry, event, status=SendStatus.SENT, wave=1, clicked=False):
    return Notification.objects.create(
        entry=entry,
        event=event,
        subscriber_key=entry.subscriber_key,
        channel="email",
        wave=wave,
        status=status,
        sent_at=event.created_at if status == SendStatus.SENT else None,
        clicked_at=event.created_at + timedelta(hours=1) if clicked else None,
    )


@pytest.fixture
def known(merchant_settings):
    """The known data set whose dashboard the tests compute by hand (see each test).

    Canvas Sneaker in Small (5 waiting: 2 VIP, 3 Standard) and Large (2 waiting), 1 waiting
    for any of its variants; a Wool Beanie in Navy (1 waiting, joined 40 days ago). A pending
    guest, two cancelled entries (today and yesterday). A finished restock of Small (10 days
    ago) that reached 3 of the 4 it notified (1 failed): 2 clicked, 1 bought. A restock of
    Navy in progress: wave 1 planned 3, 2 sent, 1 failed; wave 2 planned 2, 1 queued.
    """
    sneaker = factories.ProductFactory(name="Canvas Sneaker")
    small = factories.VariantFactory(product=sneaker, name="Small")
    large = factories.VariantFactory(product=sneaker, name="Large")
    beanie = factories.ProductFactory(name="Wool Beanie")
    navy = factories.VariantFactory(product=beanie, name="Navy")
    for variant in (small, large, navy):
        factories.StockLevelFactory(variant=variant, quantity=0)
    vip_kim = factories.UserFactory(username="vip-kim")
    vip_lee = factories.UserFactory(username="vip-lee")
    bob = factories.UserFactory(username="bob")
    carol = factories.UserFactory(username="carol")
    entry(small, days_ago=0, user=vip_kim, tier=1)
    entry(small, days_ago=0, user=vip_lee, tier=1)
    entry(small, days_ago=1, guest="g1")
    entry(small, days_ago=1, guest="g2")
    entry(small, days_ago=2, user=bob)
    entry(large, days_ago=2, guest="g3")
    entry(large, days_ago=3, guest="g4")
    entry(small, days_ago=3, product=sneaker, guest="g5")
    entry(navy, days_ago=40, guest="g6")
    entry(small, days_ago=0, guest="g7", status=Status.PENDING)
    entry(
        large,
        days_ago=5,
        guest="g8",
        status=Status.CANCELLED,
        confirmed_at=local_noon(5),
        cancelled_at=local_noon(1),
    )
    entry(large, days_ago=5, user=carol, status=Status.CANCELLED, cancelled_at=local_noon(0))

    finished = factories.RestockEventFactory(
        variant=small,
        status=RestockEvent.Status.COMPLETED,
        created_at=local_noon(10),
        completed_at=local_noon(10),
    )
    told = {"notified_by": finished, "notified_at": local_noon(10)}
    bought = entry(small, days_ago=20, guest="a", status=Status.PURCHASED, **told)
    clicked = entry(small, days_ago=20, guest="b", status=Status.NOTIFIED, **told)
    reached = entry(small, days_ago=20, guest="c", status=Status.NOTIFIED, **told)
    failed = entry(small, days_ago=20, guest="d", status=Status.NOTIFIED, **told)
    send(bought, finished, clicked=True)
    send(clicked, finished, clicked=True)
    send(reached, finished)
    send(failed, finished, SendStatus.FAILED)

    sending = factories.RestockEventFactory(
        variant=navy,
        quantity=1,
        status=RestockEvent.Status.WAITING_NEXT_WAVE,
        waves_sent=2,
        created_at=local_noon(1),
        next_wave_at=timezone.now() + timedelta(hours=20),
    )
    for number, size in ((1, 3), (2, 2)):
        RestockWave.objects.create(
            event=sending, number=number, available=1, size=size, rule="oversubscription"
        )
    told = {"notified_by": sending, "notified_at": local_noon(1), "status": Status.NOTIFIED}
    for guest, status, wave in (
        ("e", SendStatus.SENT, 1),
        ("f", SendStatus.SENT, 1),
        ("h", SendStatus.FAILED, 1),
        ("g", SendStatus.QUEUED, 2),
    ):
        send(entry(navy, days_ago=45, guest=guest, **told), sending, status, wave)

    older = factories.ForecastReportFactory(
        variant=small, recommended_restock_qty=4, occasion="older"
    )
    latest = factories.ForecastReportFactory(
        variant=small,
        recommended_restock_qty=3,
        low=1,
        high=5,
        waitlist_count=6,
        occasion="latest",
        reason=ForecastReport.Reason.RESTOCK_ENDED,
        cvr_level=ForecastReport.Level.VARIANT,
        historical_cvr=0.25,
        event=finished,
    )
    ForecastReport.objects.filter(pk=older.pk).update(created_at=local_noon(2))
    ForecastReport.objects.filter(pk=latest.pk).update(created_at=local_noon(1))
    return {
        "sneaker": sneaker,
        "small": small,
        "large": large,
        "navy": navy,
        "finished": finished,
        "sending": sending,
        "latest": latest,
    }


def key(variant):
    return (str(variant.product_id), str(variant.pk))


# The numbers --------------------------------------------------------------------------


def test_most_waited_items_with_tiers_and_latest_forecast(known):
    items = dashboard.most_waited()
    assert [(i.product_key, i.variant_key, i.waiting) for i in items[:2]] == [
        (*key(known["small"]), 5),
        (*key(known["large"]), 2),
    ]
    # Two items tie at 1: ordered by key.
    rest = sorted([(str(known["sneaker"].pk), ""), key(known["navy"])])
    assert [(i.product_key, i.variant_key, i.waiting) for i in items[2:]] == [
        (*rest[0], 1),
        (*rest[1], 1),
    ]
    small = items[0]
    assert small.by_tier == [
        {"tier": 1, "name": "VIP", "count": 2},
        {"tier": 0, "name": "Standard", "count": 3},
    ]
    assert small.report == known["latest"]
    assert (small.report.recommended_restock_qty, small.report.low, small.report.high) == (3, 1, 5)
    assert items[1].report is None
    assert len(dashboard.most_waited(limit=1)) == 1


def test_growth_per_day_in_the_merchants_time_zone(known):
    rows = dashboard.growth(30)
    assert len(rows) == 30
    today = timezone.localdate()
    assert rows[-1]["day"] == today and rows[0]["day"] == today - timedelta(days=29)
    by_age = {(today - row["day"]).days: (row["joined"], row["cancelled"]) for row in rows}
    assert {age: counts for age, counts in by_age.items() if counts != (0, 0)} == {
        0: (3, 1),
        1: (2, 1),
        2: (2, 0),
        3: (2, 0),
        5: (2, 0),
        20: (4, 0),
    }
    assert sum(row["joined"] for row in dashboard.growth(90)) == 20


def test_a_day_is_the_merchants_day(merchant_settings):
    """23:30 in Seoul is the same day in Seoul, the day before in UTC."""
    variant = factories.VariantFactory()
    today = timezone.localdate()
    late = timezone.make_aware(datetime.combine(today - timedelta(days=1), time(23, 30)))
    entry(variant, days_ago=0, guest="late", created_at=late)
    rows = dashboard.growth(30)
    assert rows[-2]["joined"] == 1 and rows[-1]["joined"] == 0


def test_funnel_overall_and_per_restock(known):
    summary = dashboard.summary()
    counts = [(s["step"], s["count"]) for s in summary["funnel"]]
    # 20 entries; only the pending guest never confirmed; the alerts reached a, b, c (sent)
    # and e, f (sent), not d and h (failed) nor g (queued); a and b clicked; a bought.
    assert counts == [
        ("joined", 20),
        ("confirmed", 19),
        ("notified", 5),
        ("clicked", 2),
        ("purchased", 1),
    ]
    rates = {s["step"]: (s["of_joined"], s["of_previous"]) for s in summary["funnel"]}
    assert rates["joined"] == (1.0, None)
    assert rates["notified"] == (5 / 20, 5 / 19)
    assert rates["purchased"] == (1 / 20, 1 / 2)
    per_restock = {e.pk: [s["count"] for s in e.funnel] for e in summary["restocks"]}
    assert [e.pk for e in summary["restocks"]] == [known["sending"].pk, known["finished"].pk]
    assert per_restock == {
        known["sending"].pk: [4, 4, 2, 0, 0],
        known["finished"].pk: [4, 4, 3, 2, 1],
    }


def test_restocks_in_progress_with_each_waves_progress(known):
    (event,) = dashboard.in_progress()
    assert event == known["sending"]
    assert [(w["number"], w["sent"], w["planned"]) for w in event.wave_progress] == [
        (1, 2, 3),
        (2, 0, 2),
    ]


def test_item_detail(known):
    detail = dashboard.item_detail(str(known["sneaker"].pk))
    assert [
        (v.variant_key, v.waiting, [t["count"] for t in v.by_tier]) for v in detail["variants"]
    ] == [
        (str(known["small"].pk), 5, [2, 3]),
        (str(known["large"].pk), 2, [2]),
        ("", 1, [1]),
    ]
    assert [e.pk for e in detail["restocks"]] == [known["finished"].pk]
    assert [r.occasion for r in detail["reports"]] == ["latest", "older"]
    # Every entry of the sneaker: 8 waiting, 1 pending (not confirmed), 2 cancelled, the 4
    # its restock notified.
    assert [s["count"] for s in detail["funnel"]] == [15, 14, 3, 2, 1]


# The pages ------------------------------------------------------------------------------


def get(client, url, **params):
    response = client.get(url, params)
    return response, response.content.decode()


def test_the_dashboard_shows_the_known_numbers(admin_client, known):
    response, page = get(admin_client, reverse(DASHBOARD))
    assert response.status_code == 200
    assert "Canvas Sneaker – Small" in page and "Wool Beanie – Navy" in page
    assert "<svg" in page and "<title" in page
    context = response.context
    assert [row["count"] for row in context["funnel"]] == [20, 19, 5, 2, 1]
    assert context["growth_totals"] == {"joined": 15, "cancelled": 2}
    assert [row["of_joined_text"] for row in context["funnel"]][2] == "25.0 %"
    assert "2 of 3 sent" in page and "0 of 2 sent" in page
    # Times in Seoul: the restock in progress was detected at noon there (03:00 in UTC).
    detected = date_format(timezone.localtime(known["sending"].created_at), "SHORT_DATE_FORMAT")
    assert f"detected {detected} noon" in page
    assert 'max="3"' in page and 'value="2"' in page
    item_url = reverse("admin:restock_waitlist_dashboard_item", args=[known["sneaker"].pk])
    assert item_url in page
    assert "1 to 5 purchases" in page


def test_the_period_can_be_90_days_and_a_bad_period_says_so(admin_client, known):
    response, _page = get(admin_client, reverse(DASHBOARD), days=90)
    assert response.context["growth_totals"]["joined"] == 20
    assert len(response.context["growth"]) == 90
    response, page = get(admin_client, reverse(DASHBOARD), days="7; drop")
    assert response.status_code == 200
    assert len(response.context["growth"]) == 30
    assert response.context["period"].errors["days"]
    assert "Select a valid choice" in page


def test_the_item_page(admin_client, known):
    url = reverse("admin:restock_waitlist_dashboard_item", args=[known["sneaker"].pk])
    response, page = get(admin_client, url)
    assert response.status_code == 200
    assert "Canvas Sneaker" in page and "Small" in page and "Large" in page
    assert "Any variant" in page and "VIP 2" in page
    assert (
        reverse("admin:restock_waitlist_restockevent_change", args=[known["finished"].pk]) in page
    )
    assert (
        reverse("admin:restock_waitlist_forecastreport_change", args=[known["latest"].pk]) in page
    )
    assert "Restock ended" in page and "25.0 %" in page


def test_an_unknown_item_is_not_found(admin_client, db):
    url = reverse("admin:restock_waitlist_dashboard_item", args=["999999"])
    assert admin_client.get(url).status_code == 404


def test_an_empty_shop_has_a_dashboard(admin_client, merchant_settings):
    response, page = get(admin_client, reverse(DASHBOARD))
    assert response.status_code == 200
    assert "Nobody is waiting for anything." in page
    assert "No restock is being sent." in page


def test_korean(admin_client, known):
    admin_client.cookies["django_language"] = "ko"
    with translation.override("ko"):
        _response, page = get(admin_client, reverse(DASHBOARD))
    assert "수요 대시보드" in page
    assert "가장 많이 기다리는 상품" in page


# Permissions ----------------------------------------------------------------------------


def test_staff_without_view_dashboard_is_refused_and_sees_no_link(client, known):
    client.force_login(staff_with("view_stockwaitlist"))
    assert client.get(reverse(DASHBOARD)).status_code == 403
    url = reverse("admin:restock_waitlist_dashboard_item", args=[known["sneaker"].pk])
    assert client.get(url).status_code == 403
    # Refused before looking: no telling which products exist.
    unknown = reverse("admin:restock_waitlist_dashboard_item", args=["999999"])
    assert client.get(unknown).status_code == 403
    index = client.get(reverse("admin:index")).content.decode()
    assert reverse(DASHBOARD) not in index
    app = client.get(reverse("admin:app_list", args=["restock_waitlist"])).content.decode()
    assert reverse(DASHBOARD) not in app


def test_view_dashboard_alone_opens_it_and_links_it(client, known):
    client.force_login(staff_with("view_dashboard"))
    assert client.get(reverse(DASHBOARD)).status_code == 200
    for url in (reverse("admin:index"), reverse("admin:app_list", args=["restock_waitlist"])):
        page = client.get(url).content.decode()
        assert reverse(DASHBOARD) in page and "Demand dashboard" in page
    # The other pages stay closed.
    assert client.get(reverse("admin:restock_waitlist_stockwaitlist_changelist")).status_code == 403
    assert (
        client.get(reverse("admin:restock_waitlist_forecastreport_changelist")).status_code == 403
    )


def test_staff_without_the_apps_permissions_sees_none_of_it(client, known):
    client.force_login(staff_with())
    index = client.get(reverse("admin:index")).content.decode()
    assert "restock_waitlist" not in index
    for name in (
        DASHBOARD,
        "admin:restock_waitlist_forecastreport_changelist",
        "admin:restock_waitlist_forecastreport_export",
    ):
        assert client.get(reverse(name)).status_code == 403
    report = reverse("admin:restock_waitlist_forecastreport_change", args=[known["latest"].pk])
    assert client.get(report).status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client, db):
    response = client.get(reverse(DASHBOARD))
    assert response.status_code == 302 and "/login/" in response["Location"]


# Queries --------------------------------------------------------------------------------


def more(count):
    """``count`` more items with waiters, restocks in progress, reports and reached entries."""
    for _ in range(count):
        variant = factories.VariantFactory()
        for n in range(3):
            factories.EntryFactory(variant=variant, tier=n % 2)
        event = factories.RestockEventFactory(
            variant=variant, status=RestockEvent.Status.DISPATCHING
        )
        RestockWave.objects.create(event=event, number=1, available=1, size=3, rule="x")
        factories.alerted(event, 2, purchased=1)
        factories.ForecastReportFactory(variant=variant)


def queries(client, url):
    client.get(url)  # warm caches (content types, permissions)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_dashboard_costs_the_same_queries_whatever_the_data(
    admin_client, known, django_assert_max_num_queries
):
    url = reverse(DASHBOARD)
    small = queries(admin_client, url)
    more(15)
    assert queries(admin_client, url) == small
    with django_assert_max_num_queries(19):
        admin_client.get(url)


def test_the_item_page_costs_the_same_queries_whatever_the_data(
    admin_client, known, django_assert_max_num_queries
):
    url = reverse("admin:restock_waitlist_dashboard_item", args=[known["sneaker"].pk])
    small = queries(admin_client, url)
    for _ in range(10):
        variant = factories.VariantFactory(product=known["sneaker"])
        factories.EntryFactory(variant=variant, tier=1)
        event = factories.RestockEventFactory(variant=variant)
        RestockWave.objects.create(event=event, number=1, available=1, size=3, rule="x")
        factories.ForecastReportFactory(variant=variant)
    assert queries(admin_client, url) == small
    with django_assert_max_num_queries(12):
        admin_client.get(url)


def test_the_forecast_report_list_costs_the_same_queries(admin_client, known):
    url = reverse("admin:restock_waitlist_forecastreport_changelist")
    small = queries(admin_client, url)
    more(15)
    assert queries(admin_client, url) == small


# Forecast reports -----------------------------------------------------------------------


def test_reports_listed_by_name_with_labels(admin_client, known):
    response, page = get(admin_client, reverse("admin:restock_waitlist_forecastreport_changelist"))
    assert response.status_code == 200
    assert "Canvas Sneaker" in page and "Small" in page
    assert "Restock ended" in page and "Daily" in page
    assert "This variant" in page and "25.0 %" in page
    assert "1 to 5 purchases" in page


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"reason__exact": "restock_ended"}, ["latest"]),
        ({"reason__exact": "daily"}, ["older"]),
        ({"cvr_level__exact": "variant"}, ["latest"]),
    ],
)
def test_reports_filtered(admin_client, known, params, expected):
    response = admin_client.get(reverse("admin:restock_waitlist_forecastreport_changelist"), params)
    assert [r.occasion for r in response.context["cl"].result_list] == expected


def test_reports_filtered_by_product_and_date(admin_client, known):
    other = factories.ForecastReportFactory(occasion="elsewhere")
    url = reverse("admin:restock_waitlist_forecastreport_changelist")
    response = admin_client.get(url, {"product": known["sneaker"].pk})
    assert other not in response.context["cl"].result_list
    assert len(response.context["cl"].result_list) == 2
    day = timezone.localdate() - timedelta(days=2)
    response = admin_client.get(
        url,
        {"created_at__year": day.year, "created_at__month": day.month, "created_at__day": day.day},
    )
    assert [r.occasion for r in response.context["cl"].result_list] == ["older"]


def read_csv(response):
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_reports_download_as_csv_filtered_in_local_time(admin_client, known):
    url = reverse("admin:restock_waitlist_forecastreport_export")
    rows = read_csv(admin_client.get(url, {"reason__exact": "restock_ended"}))
    assert len(rows) == 1
    (row,) = rows
    assert row["Item"] == "Canvas Sneaker – Small"
    assert row["Written"] == "Restock ended"
    assert row["Conversion measured on"] == "This variant"
    assert row["Recommended restock"] == "3"
    assert (row["Purchases, lower bound"], row["Purchases, upper bound"]) == ("1", "5")
    assert row["Written at"] == local_noon(1).isoformat()
    assert row["Written at"].endswith("+09:00")
    assert row["Restock"] == str(known["finished"].pk)
    # The list page links to the download with its filters.
    page = admin_client.get(
        reverse("admin:restock_waitlist_forecastreport_changelist"), {"reason__exact": "daily"}
    ).content.decode()
    assert f"{url}?reason__exact=daily" in page


def test_the_csv_is_in_the_merchants_language(admin_client, known):
    admin_client.cookies["django_language"] = "ko"
    url = reverse("admin:restock_waitlist_forecastreport_export")
    rows = read_csv(admin_client.get(url, {"reason__exact": "restock_ended"}))
    assert rows[0]["상품"] == "Canvas Sneaker – Small"
    assert "재입고 종료" in rows[0].values()


def test_a_report_page_is_read_only_and_named(admin_client, known):
    url = reverse("admin:restock_waitlist_forecastreport_change", args=[known["latest"].pk])
    response, page = get(admin_client, url)
    assert response.status_code == 200
    assert "Canvas Sneaker – Small" in page and 'name="_save"' not in page
    assert "Restock ended" in page and "1 to 5 purchases" in page
    add = reverse("admin:restock_waitlist_forecastreport_add")
    assert admin_client.get(add).status_code == 403
