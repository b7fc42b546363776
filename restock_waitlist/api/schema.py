"""OpenAPI hints through drf-spectacular when it is installed, harmless no-ops when not.

drf-spectacular is the optional ``openapi`` extra: views and serializers import the
decorators from here, so the API itself runs without it.
"""

from django.utils.translation import gettext_lazy as _
from rest_framework.schemas.inspectors import DefaultSchema

from restock_waitlist.conf import app_settings

try:
    from drf_spectacular.extensions import OpenApiSerializerFieldExtension
    from drf_spectacular.openapi import AutoSchema
    from drf_spectacular.types import OpenApiTypes
    from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
except ImportError:  # pragma: no cover - exercised by a subprocess test
    HAS_SPECTACULAR = False

    def extend_schema(*args, **kwargs):
        return lambda target: target

    extend_schema_view = extend_schema

    class OpenApiParameter:
        """Stands in for drf-spectacular's parameter so decorator arguments still import."""

        QUERY = HEADER = PATH = None

        def __init__(self, *args, **kwargs):
            pass

    class OpenApiTypes:
        STR = INT = DATETIME = UUID = OBJECT = None

    def waitlist_schema():
        return DefaultSchema()

else:
    HAS_SPECTACULAR = True

    DETAIL_SCHEMA = {
        "type": "object",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    }
    #: 400 bodies name each bad field or query parameter (or ``non_field_errors``) with its
    #: messages (nested by index for list items), or carry ``detail`` for unreadable bodies.
    FIELD_ERRORS_SCHEMA = {
        "type": "object",
        "additionalProperties": {
            "anyOf": [
                {"type": "array", "items": {"type": "string"}},
                {"type": "object"},
                {"type": "string"},
            ]
        },
    }
    ERROR_DESCRIPTIONS = {
        "400": (
            _("Invalid input; the body names each bad field or query parameter."),
            FIELD_ERRORS_SCHEMA,
        ),
        "401": (
            _("Not authenticated (with an authentication class that challenges)."),
            DETAIL_SCHEMA,
        ),
        "403": (
            _("Not authenticated, not allowed, or a bad or expired guest token."),
            DETAIL_SCHEMA,
        ),
        "404": (_("No such entry, someone else's entry, or no such page."), DETAIL_SCHEMA),
        "429": (
            _("Too many requests; retry after the Retry-After header's seconds."),
            DETAIL_SCHEMA,
        ),
    }

    class WaitlistAutoSchema(AutoSchema):
        """drf-spectacular's schema plus the error responses DRF gives, so clients and
        schemathesis know every status code an operation can answer."""

        def get_filter_backends(self):
            if getattr(self.view, "action", None) in getattr(self.view, "filtered_actions", ()):
                return list(getattr(self.view, "filter_backends", []))
            return super().get_filter_backends()

        def _get_response_bodies(self, direction="response"):
            responses = super()._get_response_bodies(direction)
            if direction != "response":
                return responses
            for code, (description, body) in ERROR_DESCRIPTIONS.items():
                if code == "400" and self.method == "DELETE":
                    continue
                responses.setdefault(
                    code,
                    {
                        "description": str(description),
                        "content": {"application/json": {"schema": body}},
                    },
                )
            return responses

    class CatalogKeyFieldExtension(OpenApiSerializerFieldExtension):
        """A product or variant key has the type of the shop model's primary key."""

        target_class = "restock_waitlist.api.serializers.CatalogKeyField"

        def map_serializer_field(self, auto_schema, direction):
            model = app_settings.model(self.target.model_setting)
            if model is None:
                schema = {"type": "string"}
            else:
                schema = auto_schema._map_model_field(model._meta.pk, direction)
                schema.pop("readOnly", None)
            if self.target.allow_null:
                schema["nullable"] = True
            return schema

    class NamedChoiceFieldExtension(OpenApiSerializerFieldExtension):
        """Each status set is its own named enum component, with no name collisions."""

        target_class = "restock_waitlist.api.serializers.NamedChoiceField"

        def get_name(self):
            return self.target.schema_name

        def map_serializer_field(self, auto_schema, direction):
            return {"type": "string", "enum": list(self.target.choices)}

    def waitlist_schema():
        return WaitlistAutoSchema()
