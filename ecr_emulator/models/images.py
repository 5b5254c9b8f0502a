"""Images of one repository, indexed by digest and by tag, and kept in push order for paging.

Lookups by tag or digest are dictionary hits, as are the manifest lists naming an image (``parents``) and the
manifests whose subject is an image (``referrers``). Paging walks a push-ordered list of sequence numbers from a
position found by bisection, so a page costs O(log n + page size) and a token (the last sequence number served)
stays valid while images are pushed or deleted.
"""

import bisect


class Image:
    """One manifest stored in a repository, with the tags that point at it.

    Besides what the manifest says, an image carries its last basic and enhanced scan records (``models.scans``),
    the due time of a running restore from archive and the time the last restore completed (``models.storage``),
    and its replication outcome per destination (``models.replication``); each is None until it first happens.
    """

    __slots__ = ("digest", "manifest", "media_type", "artifact_media_type", "tags", "pushed_at", "size",
                 "seq", "last_pull", "layers", "children", "config", "subject", "artifact_type", "storage_class",
                 "transitioned_at", "scan", "enhanced_scan", "activating_until", "last_activated",
                 "replication_statuses")

    def __init__(self, digest: str, manifest: bytes, media_type: str, pushed_at: float, size: int):
        self.digest = digest
        self.manifest = manifest
        self.media_type = media_type
        self.artifact_media_type: str | None = None
        self.tags: list[str] = []
        self.pushed_at = pushed_at
        self.size = size
        self.seq = 0
        self.last_pull: float | None = None
        self.layers: tuple = ()
        self.children: tuple = ()
        self.config: str | None = None
        self.subject: str | None = None
        self.artifact_type: str | None = None
        self.storage_class = "STANDARD"
        self.transitioned_at: float | None = None
        self.scan: dict | None = None
        self.enhanced_scan: dict | None = None
        self.activating_until: float | None = None
        self.last_activated: float | None = None
        # {(region, registryId): ImageReplicationStatus}
        self.replication_statuses: dict[tuple[str, str], dict] | None = None

    @property
    def status(self) -> str:
        """ECR's imageStatus: archived images are ARCHIVED (ACTIVATING while a restore runs), the rest ACTIVE."""
        if self.storage_class != "ARCHIVE":
            return "ACTIVE"
        return "ACTIVATING" if self.activating_until is not None else "ARCHIVED"


class ImageIndex:
    """The images of one repository. Callers hold the store lock while mutating it."""

    __slots__ = ("by_digest", "by_tag", "parents", "referrers", "_seqs", "_by_seq", "_next_seq")

    def __init__(self):
        self.by_digest: dict[str, Image] = {}
        self.by_tag: dict[str, Image] = {}
        self.parents: dict[str, set[str]] = {}
        self.referrers: dict[str, set[str]] = {}
        self._seqs: list[int] = []
        self._by_seq: dict[int, Image] = {}
        self._next_seq = 1

    def __len__(self) -> int:
        return len(self.by_digest)

    def add(self, image: Image) -> None:
        self._next_seq += 1
        image.seq = self._next_seq
        self.by_digest[image.digest] = image
        self._seqs.append(image.seq)
        self._by_seq[image.seq] = image
        for child in image.children:
            self.parents.setdefault(child, set()).add(image.digest)
        if image.subject:
            self.referrers.setdefault(image.subject, set()).add(image.digest)

    def tag(self, image: Image, tag: str) -> Image | None:
        """Point ``tag`` at ``image``; return the image the tag was moved from, if any."""
        previous = self.by_tag.get(tag)
        if previous is image:
            return None
        if previous is not None:
            previous.tags.remove(tag)
        image.tags.append(tag)
        self.by_tag[tag] = image
        return previous

    def untag(self, tag: str) -> Image | None:
        image = self.by_tag.pop(tag, None)
        if image is not None:
            image.tags.remove(tag)
        return image

    def remove(self, image: Image) -> None:
        for tag in image.tags:
            self.by_tag.pop(tag, None)
        image.tags = []
        del self.by_digest[image.digest]
        del self._by_seq[image.seq]
        for child in image.children:
            _discard(self.parents, child, image.digest)
        if image.subject:
            _discard(self.referrers, image.subject, image.digest)
        if len(self._seqs) > 64 and len(self._seqs) > 2 * len(self._by_seq):
            self._seqs = [s for s in self._seqs if s in self._by_seq]

    def page(self, after_seq: int, limit: int, keep=None):
        """Up to ``limit`` images pushed after ``after_seq`` that satisfy ``keep``; and the token for the rest."""
        out: list[Image] = []
        seqs, by_seq = self._seqs, self._by_seq
        i = bisect.bisect_right(seqs, after_seq)
        n = len(seqs)
        while i < n:
            image = by_seq.get(seqs[i])
            i += 1
            if image is None or (keep is not None and not keep(image)):
                continue
            if len(out) == limit:
                return out, out[-1].seq
            out.append(image)
        return out, None

    def __iter__(self):
        by_seq = self._by_seq
        for s in self._seqs:
            image = by_seq.get(s)
            if image is not None:
                yield image


def _discard(index: dict[str, set[str]], key: str, digest: str) -> None:
    members = index.get(key)
    if members is not None:
        members.discard(digest)
        if not members:
            del index[key]
