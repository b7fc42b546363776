"""Request parsers that answer a hostile body with 400, never a server error.

DRF's ``JSONParser`` reads the whole body, however large, and Python's ``json`` raises
``RecursionError`` (a 500) on deeply nested arrays. Nothing the API takes is larger than a
few hundred bytes or deeper than two levels, so bodies are capped well above that.
"""

from django.conf import settings
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.utils import json

#: The largest request body the API reads.
MAX_BODY_BYTES = 64 * 1024
#: The deepest nesting of arrays and objects a JSON body may have.
MAX_JSON_DEPTH = 32


def _declared_length(parser_context):
    request = (parser_context or {}).get("request")
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
    except ValueError:
        return 0


def read_bounded(stream, parser_context):
    """The body, or ``ParseError`` when it is (or says it is) larger than the cap."""
    too_large = ParseError(_("The request body is too large."))
    if _declared_length(parser_context) > MAX_BODY_BYTES:
        raise too_large
    body = stream.read(MAX_BODY_BYTES + 1) if stream is not None else b""
    if len(body) > MAX_BODY_BYTES:
        raise too_large
    return body


def nesting_depth(value, limit=MAX_JSON_DEPTH):
    """How deep arrays and objects nest in ``value`` (``[]`` is 1), counted without recursion
    and no further than ``limit + 1``."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, (list, dict)):
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            break
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children)
    return deepest


class BoundedJSONParser(JSONParser):
    """JSON of at most ``MAX_BODY_BYTES`` and ``MAX_JSON_DEPTH`` levels."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        body = read_bounded(stream, parser_context)
        constant = json.strict_constant if self.strict else None
        try:
            data = json.loads(body.decode(encoding), parse_constant=constant)
        except RecursionError as exc:
            raise ParseError(_("The JSON body is nested too deeply.")) from exc
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        if nesting_depth(data) > MAX_JSON_DEPTH:
            raise ParseError(_("The JSON body is nested too deeply."))
        return data


class BoundedFormParser(FormParser):
    """A form-encoded body of at most ``MAX_BODY_BYTES``."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        return QueryDict(read_bounded(stream, parser_context), encoding=encoding)


class BoundedMultiPartParser(MultiPartParser):
    """A multipart body that says it is at most ``MAX_BODY_BYTES`` (Django's own parser
    then holds it to its length)."""

    def parse(self, stream, media_type=None, parser_context=None):
        if _declared_length(parser_context) > MAX_BODY_BYTES:
            raise ParseError(_("The request body is too large."))
        return super().parse(stream, media_type, parser_context)


PARSER_CLASSES = [BoundedJSONParser, BoundedFormParser, BoundedMultiPartParser]
