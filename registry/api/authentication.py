from django.utils import timezone
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.signals import token_expired


class TokenAuthentication(KnoxTokenAuthentication):
    """Knox token authentication without knox's scan of all the user's tokens on every request.

    Knox deletes a user's other expired tokens each time any token is used, one extra query per API call;
    here only the presented token is checked, and expired tokens are purged at login instead
    (`registry.api.views.TokenLoginView`).
    """

    def _cleanup_token(self, auth_token) -> bool:
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            username = auth_token.user.get_username()
            auth_token.delete()
            token_expired.send(sender=self.__class__, username=username, source="auth_token")
            return True
        return False
