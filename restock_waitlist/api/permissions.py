"""Who may call what: shoppers their own entries, guests the one entry their token names,
merchants (staff with the model permissions) everything."""

from rest_framework import permissions
from rest_framework.authentication import CSRFCheck
from rest_framework.exceptions import PermissionDenied

from restock_waitlist import tokens

#: Guests pass the manage token from their message in this header or the ``token`` parameter.
TOKEN_HEADER = "X-Waitlist-Token"
TOKEN_PARAM = "token"


def token_from(request):
    """The guest token the request carries, ``""`` if none."""
    return request.query_params.get(TOKEN_PARAM) or request.headers.get(TOKEN_HEADER) or ""


def token_entry_id(request):
    """The id of the entry the request's token opens, ``None`` without a token.

    A tampered, expired or wrong-purpose token answers 403 with the reason.
    """
    token = token_from(request)
    if not token:
        return None
    try:
        return tokens.entry_id_from_token(token, tokens.MANAGE)
    except tokens.BadToken as exc:
        raise PermissionDenied(str(exc)) from exc


class IsShopperOrTokenHolder(permissions.BasePermission):
    """Anyone may join; everything else needs a signed-in user or a guest token."""

    def has_permission(self, request, view):
        if view.action == "create":
            return True
        return bool(request.user and request.user.is_authenticated) or bool(token_from(request))


def is_json(request):
    media_type = (request.content_type or "").split(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


class FormPostsNeedCsrf(permissions.BasePermission):
    """An anonymous POST that is not JSON (form-encoded, multipart, plain text) needs the
    CSRF token, as the app's views do: any page on the web can make a browser send one, and
    the visitor's IP would pay for the join. JSON needs a CORS preflight, so apps and
    ``notify.js`` post JSON without one; session users are checked by DRF's
    ``SessionAuthentication``."""

    def has_permission(self, request, view):
        user = request.user
        if request.method != "POST" or (user and user.is_authenticated) or is_json(request):
            return True
        check = CSRFCheck(lambda _request: None)
        check.process_request(request)
        reason = check.process_view(request, None, (), {})
        if reason:
            raise PermissionDenied(f"CSRF Failed: {reason}")
        return True


class IsMerchant(permissions.DjangoModelPermissions):
    """Staff with the model permission the method needs: ``view_`` to read, ``add_`` to
    record a restock. Not-authenticated and not-allowed answer as DRF does (401/403)."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff) and super().has_permission(
            request, view
        )
