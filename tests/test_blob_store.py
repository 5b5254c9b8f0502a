"""The blob store on its own: content addressing, resumable uploads, and the checks that keep paths inside root."""

import hashlib

import pytest

from ecr_emulator.registry.blob_store import (
    BlobStore,
    DigestMismatchError,
    InvalidDigestError,
    UnknownUploadError,
    UploadOffsetError,
)

ACCOUNT, REGION = "123456789012", "us-east-1"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def blobs(tmp_path):
    return BlobStore(tmp_path / "blobs")


def files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_chunked_upload_becomes_a_content_addressed_blob(blobs):
    upload = blobs.start_upload(ACCOUNT, REGION)
    assert blobs.upload_size(ACCOUNT, REGION, upload) == 0
    assert blobs.append(ACCOUNT, REGION, upload, [b"hello ", b"wor"]) == 9
    assert blobs.append(ACCOUNT, REGION, upload, iter([b"ld"]), offset=9) == 11
    digest = sha(b"hello world")
    assert blobs.finish(ACCOUNT, REGION, upload, digest) == 11
    hex_ = digest[7:]
    assert files(blobs.root) == [f"{ACCOUNT}/{REGION}/sha256/{hex_[:2]}/{hex_}"]
    assert blobs.exists(ACCOUNT, REGION, digest)
    assert blobs.size(ACCOUNT, REGION, digest) == 11
    assert blobs.path(ACCOUNT, REGION, digest).read_bytes() == b"hello world"
    with pytest.raises(KeyError):
        blobs.upload_size(ACCOUNT, REGION, upload)


def test_registries_are_separate_namespaces(blobs):
    digest, _ = blobs.put(ACCOUNT, REGION, [b"x"], None)
    assert not blobs.exists("210987654321", REGION, digest)
    assert not blobs.exists(ACCOUNT, "eu-west-1", digest)


def test_append_at_the_wrong_offset_is_refused_with_the_current_size(blobs):
    upload = blobs.start_upload(ACCOUNT, REGION)
    blobs.append(ACCOUNT, REGION, upload, [b"abc"])
    with pytest.raises(UploadOffsetError) as caught:
        blobs.append(ACCOUNT, REGION, upload, [b"def"], offset=2)
    assert caught.value.size == 3
    assert blobs.upload_size(ACCOUNT, REGION, upload) == 3


def test_append_that_fails_part_way_leaves_the_upload_as_it_was(blobs):
    upload = blobs.start_upload(ACCOUNT, REGION)
    blobs.append(ACCOUNT, REGION, upload, [b"abc"])

    def hangs_up():
        yield b"def"
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        blobs.append(ACCOUNT, REGION, upload, hangs_up())
    assert blobs.upload_size(ACCOUNT, REGION, upload) == 3
    blobs.append(ACCOUNT, REGION, upload, [b"xyz"], offset=3)
    assert blobs.finish(ACCOUNT, REGION, upload, sha(b"abcxyz")) == 6


def test_digest_mismatch_drops_the_upload_and_stores_nothing(blobs):
    upload = blobs.start_upload(ACCOUNT, REGION)
    blobs.append(ACCOUNT, REGION, upload, [b"abc"])
    with pytest.raises(DigestMismatchError) as caught:
        blobs.finish(ACCOUNT, REGION, upload, sha(b"other"))
    assert caught.value.actual == sha(b"abc")
    assert files(blobs.root) == []
    assert not blobs.exists(ACCOUNT, REGION, sha(b"abc"))
    with pytest.raises(KeyError):
        blobs.upload_size(ACCOUNT, REGION, upload)


def test_finishing_a_blob_that_exists_just_drops_the_upload(blobs):
    digest, _ = blobs.put(ACCOUNT, REGION, [b"same"], None)
    upload = blobs.start_upload(ACCOUNT, REGION)
    blobs.append(ACCOUNT, REGION, upload, [b"same"])
    assert blobs.finish(ACCOUNT, REGION, upload, digest) == 4
    assert len(files(blobs.root)) == 1


def test_lost_hash_state_is_rebuilt_from_the_file(blobs):
    upload = blobs.start_upload(ACCOUNT, REGION)
    blobs.append(ACCOUNT, REGION, upload, [b"before restart "])
    reopened = BlobStore(blobs.root)
    assert reopened.upload_size(ACCOUNT, REGION, upload) == 15
    reopened.append(ACCOUNT, REGION, upload, [b"and after"], offset=15)
    assert reopened.finish(ACCOUNT, REGION, upload, sha(b"before restart and after")) == 24


def test_put_streams_and_verifies(blobs):
    chunks = (bytes([i]) * 1000 for i in range(50))
    data = b"".join(bytes([i]) * 1000 for i in range(50))
    assert blobs.put(ACCOUNT, REGION, chunks, sha(data)) == (sha(data), 50_000)
    assert blobs.path(ACCOUNT, REGION, sha(data)).read_bytes() == data
    with pytest.raises(DigestMismatchError):
        blobs.put(ACCOUNT, REGION, [b"abc"], sha(b"abd"))
    assert not blobs.exists(ACCOUNT, REGION, sha(b"abc"))
    assert files(blobs.root) == [blobs.path(ACCOUNT, REGION, sha(data)).relative_to(blobs.root).as_posix()]


@pytest.mark.parametrize("digest", [
    "sha256:" + "A" * 64, "sha256:" + "a" * 63, "sha512:" + "a" * 128, "sha256:../../../etc/passwd",
    "sha256:" + "a" * 64 + "/..", "", "a" * 64,
])
def test_invalid_digests_are_refused_before_any_path_is_built(blobs, digest):
    for call in (blobs.exists, blobs.size, blobs.path, blobs.delete):
        with pytest.raises(InvalidDigestError):
            call(ACCOUNT, REGION, digest)
    with pytest.raises(InvalidDigestError):
        blobs.put(ACCOUNT, REGION, [b"x"], digest)
    assert files(blobs.root) == []


@pytest.mark.parametrize("upload_id", ["../../x", "..", "", "not-a-uuid", "00000000-0000-0000-0000-00000000000/"])
def test_upload_ids_that_are_not_uuids_are_unknown(blobs, upload_id):
    with pytest.raises(UnknownUploadError):
        blobs.upload_size(ACCOUNT, REGION, upload_id)
    with pytest.raises(KeyError):
        blobs.append(ACCOUNT, REGION, upload_id, [b"x"])
    with pytest.raises(KeyError):
        blobs.finish(ACCOUNT, REGION, upload_id, sha(b"x"))
    with pytest.raises(KeyError):
        blobs.cancel(ACCOUNT, REGION, upload_id)


@pytest.mark.parametrize("account, region", [("../../tmp", REGION), (ACCOUNT, ".."), (ACCOUNT, "a/b"), ("12", REGION)])
def test_accounts_and_regions_are_checked_too(blobs, account, region):
    with pytest.raises(ValueError):
        blobs.exists(account, region, sha(b"x"))
    with pytest.raises(ValueError):
        blobs.start_upload(account, region)


def test_cancel_and_delete(blobs):
    upload = blobs.start_upload(ACCOUNT, REGION)
    blobs.append(ACCOUNT, REGION, upload, [b"abc"])
    blobs.cancel(ACCOUNT, REGION, upload)
    with pytest.raises(KeyError):
        blobs.upload_size(ACCOUNT, REGION, upload)
    digest, _ = blobs.put(ACCOUNT, REGION, [b"abc"], None)
    assert blobs.delete(ACCOUNT, REGION, digest) is True
    assert blobs.delete(ACCOUNT, REGION, digest) is False
    assert blobs.size(ACCOUNT, REGION, digest) is None


def test_clear_removes_blobs_and_uploads(blobs):
    digest, _ = blobs.put(ACCOUNT, REGION, [b"abc"], None)
    upload = blobs.start_upload(ACCOUNT, REGION)
    blobs.clear()
    assert not blobs.exists(ACCOUNT, REGION, digest)
    with pytest.raises(KeyError):
        blobs.upload_size(ACCOUNT, REGION, upload)
    assert files(blobs.root) == []


def test_monolithic_writes_left_by_a_crash_are_removed_when_the_store_opens(tmp_path):
    from ecr_emulator.registry.blob_store import BlobStore

    leftover = tmp_path / "123456789012" / "us-east-1" / "uploads" / "0b3c2f9e-6a86-4a47-9c43-0c8b1f3c9a11.put"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half a blob")
    BlobStore(tmp_path)
    assert not leftover.exists()
