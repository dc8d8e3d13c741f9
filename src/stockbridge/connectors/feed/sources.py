"""Where feed files come from: an HTTP(S) URL, a local folder, or an SFTP server.

``fetch()`` yields each file to read as a ``Fetched``: a local path (downloads are
spooled to a temporary file, never held in memory) plus what to do once the file was
applied (remember its ETag / Last-Modified / size and time so an unchanged feed costs
one cheap request) or rejected (a folder moves it to ``rejected/``; a URL remembers the
rejected version, and while the URL still serves it a pull fails at the cost of one 304
instead of downloading and rejecting it again). An unchanged source yields nothing. That
state lives in the connection's vault, so it survives restarts, and it is only written
once the file was applied completely (or rejected whole).
"""

from __future__ import annotations

from stockbridge.connectors.feed.source_base import Fetched, Source
from stockbridge.connectors.feed.source_folder import FolderSource
from stockbridge.connectors.feed.source_http import MAX_REDIRECTS, HttpSource
from stockbridge.connectors.feed.source_sftp import SftpSource

__all__ = ["MAX_REDIRECTS", "Fetched", "FolderSource", "HttpSource", "SftpSource", "Source"]
