"""Keep presidio's dependencies off the network.

presidio's e-mail recognizer calls `tldextract.extract`, whose first use
tries to download the public suffix list. Point the module-level extractor
at the snapshot bundled inside tldextract instead.
"""

from __future__ import annotations

import tldextract.tldextract as _impl


def use_bundled_suffix_list() -> None:
    _impl.TLD_EXTRACTOR = _impl.TLDExtract(suffix_list_urls=(), cache_dir=None)
