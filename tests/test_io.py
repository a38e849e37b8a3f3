"""Atomic and background writes."""

import threading
import time

import pytest

from handreid.io import BackgroundWriter, atomic_write, write_text


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path):
    target = write_text(tmp_path / "a.txt", "old")

    def broken(tmp):
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]  # no temporary file left


def test_background_writes_run_off_the_caller_thread_in_order(tmp_path):
    order, threads = [], set()

    def slow(i):
        def write():
            time.sleep(0.05)
            threads.add(threading.current_thread().name)
            order.append(i)
            write_text(tmp_path / "log.txt", str(i))
        return write

    with BackgroundWriter() as w:
        t0 = time.perf_counter()
        w.submit(slow(1))
        assert time.perf_counter() - t0 < 0.04  # submit does not wait for the write
        w.submit(slow(2))                       # waits for write 1 first: at most one pending
        assert order == [1]
    assert order == [1, 2] and (tmp_path / "log.txt").read_text() == "2"
    assert threading.current_thread().name not in threads


def test_a_failed_background_write_is_raised_not_dropped(tmp_path):
    def fail():
        raise OSError(f"cannot write {tmp_path / 'checkpoint.pt'}")

    w = BackgroundWriter()
    w.submit(fail)
    with pytest.raises(OSError, match="cannot write .*checkpoint.pt"):
        w.submit(lambda: None)
    with pytest.raises(OSError, match="cannot write"):
        with BackgroundWriter() as w2:
            w2.submit(fail)

    # When the body fails too, its error is raised and the write's is attached to it.
    with pytest.raises(KeyError) as info:
        with BackgroundWriter() as w3:
            w3.submit(fail)
            raise KeyError("training failed")
    assert any("a background write failed too" in n and "cannot write" in n for n in info.value.__notes__)
