"""A locmem channel whose message ids say which cluster process sent them."""

import os

from restock_waitlist.channels.locmem import LocmemChannel


class LabelledChannel(LocmemChannel):
    def post(self, payload):
        super().post(payload)
        return f"{os.environ.get('RW_QCLUSTER_LABEL', 'main')}:{os.getpid()}"
