"""The waitlist's REST API: DRF viewsets over the service functions.

Mount it with ``path("api/waitlist/", include("restock_waitlist.api.urls"))``. The
OpenAPI schema needs the optional ``openapi`` extra (drf-spectacular); everything else
works without it.
"""
