"""The campaign on Dask: ``dnnsplit bench --workers N`` (a local cluster) or ``--scheduler ADDRESS``.

What stays as in the sequential runner (``runner.py``), so that records mean the same:

- **One solve per child process, limits inside the task.** A Dask task is
  :func:`solve_on_worker`: it runs :meth:`runner.Runner.run_payload` on the worker, i.e. one
  child process (a fork of the worker's own fork server, preloaded once per worker:
  ``preload.py``) under the hard wall-clock and memory limits of ``child.py``. Dask cannot
  cancel a running task; it never needs to: a hung or memory-hungry solver is killed by the
  task itself and comes back as a record (``time_limit``, ``memory_out``, ``error``).
- **Instances by content hash.** The client ships each instance's canonical text (zlib) with
  its task; the worker checks its sha256 against the planned hash and keeps one file per hash
  in its local directory (``dnnsplit-instances/<hash>.json``). With ``--shared-instances`` the
  worker reads the planned path instead (a shared file system) and the child checks the hash
  of what it loaded (untimed, before the solve). A mismatch is a record with status error naming both hashes.
- **One writer.** Workers return results; the client appends each record as its future
  completes (``runner.run_campaign``). At most ``2 x workers`` tasks are in flight, so a kill
  of the client loses at most those (their records were not written, ``--resume`` runs them).
- **Same code.** Each task carries the client's code version (package version and git commit)
  and a digest of its Python sources; a worker whose version differs and whose sources differ
  too returns status error instead of solving (records name the code that measured them; a
  node without git passes on identical sources).

Faults:

- a worker process that dies mid-solve (killed, out of memory) has its task rescheduled by the
  scheduler up to ``allowed-failures`` times (``--retries``, default 2: set on a local cluster;
  an existing scheduler keeps its own ``distributed.scheduler.allowed-failures``, which the
  banner reports); after that the task is recorded with status error and the reason;
- the client killed (SIGKILL): the local cluster's workers and their solves die with it; what
  was appended stays, ``--resume`` runs the rest, each task once;
- the scheduler gone (``--scheduler``): :class:`SchedulerLost`, a clear message, and the
  results file stays valid for ``--resume``.

Worker processes are single-threaded (one solve each). Dask workers run as daemonic processes
by default, which Python forbids to start children; the worker function clears that flag for
its own process (the solve children die with the worker anyway: ``child._die_with_parent``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import threading
import time
import zlib
from pathlib import Path
from typing import Any

from dnnsplit.campaign.runner import Done, Runner, SolveSlots, task_payload
from dnnsplit.campaign.records import failure_result
from dnnsplit.campaign.tasks import CampaignError, Settings, Task, code_version, source_digest

DEFAULT_RETRIES = 2
PROCESSING_POLL_S = 2.0


class SchedulerLost(CampaignError):
    """The Dask scheduler went away mid-campaign."""


def dask_available() -> str:
    """'' when ``distributed`` imports, else why not."""
    try:
        import distributed  # noqa: F401
    except ImportError as err:
        return f"{err}"
    return ""


# ---------------------------------------------------------------------------------------------
# on the worker


_RUNNERS: dict[tuple[Any, ...], Runner] = {}


def _allow_children() -> None:
    """Dask starts worker processes as daemons, and multiprocessing refuses children to those."""
    import multiprocessing as mp

    proc = mp.current_process()
    if proc.daemon:
        proc._config["daemon"] = False  # private; the documented switch is distributed.worker.daemon


def _worker_dir() -> Path:
    try:
        from distributed import get_worker

        return Path(get_worker().local_directory)
    except (ImportError, ValueError, AttributeError):
        import tempfile

        return Path(tempfile.gettempdir())


def _worker_name() -> str:
    import socket

    try:
        from distributed import get_worker

        w = get_worker()
        return f"{w.address} ({socket.gethostname()}, pid {os.getpid()})"
    except (ImportError, ValueError, AttributeError):
        return f"{socket.gethostname()}:{os.getpid()}"


def _instance_file(payload: dict[str, Any]) -> str:
    """The local file of the task's instance: the shipped text, checked and cached by hash."""
    text_z = payload.pop("instance_text_z", None)
    if text_z is None:
        return payload["instance_file"]  # a shared path; the child checks the hash it loads
    expected = payload["instance_hash"]
    folder = _worker_dir() / "dnnsplit-instances"
    path = folder / f"{expected}.json"
    if not path.exists():
        text = zlib.decompress(text_z)
        got = hashlib.sha256(text).hexdigest()[:16]
        if got != expected:
            raise ValueError(f"the instance text shipped for {payload['key']} has hash {got}, planned {expected}")
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{expected}.{os.getpid()}.tmp"
        tmp.write_bytes(text)
        os.replace(tmp, path)
    return str(path)


def solve_on_worker(payload: dict[str, Any]) -> dict[str, Any]:
    """The Dask task: one solve in its own child process on this worker (never raises)."""
    from dnnsplit import catalogue, machine
    from dnnsplit.campaign.tasks import Settings as _Settings

    _allow_children()
    t0 = time.perf_counter()
    fields = {"worker": _worker_name()}
    spec = catalogue.get(payload["formulation"], payload["backend"])
    mine = code_version()
    try:
        # the same code: the same version and commit, or (a node without git) the same sources
        if payload.get("code_version") != mine and payload.get("source_digest") != source_digest():
            raise ValueError(f"this worker runs dnnsplit {mine} (sources {source_digest()}), the client "
                             f"{payload.get('code_version')} (sources {payload.get('source_digest')}): "
                             "install the same code on every worker")
        payload["instance_file"] = _instance_file(payload)
    except (ValueError, OSError, zlib.error) as err:
        result = failure_result(spec, "error", f"on worker {fields['worker']}: {err}", 0.0)
        fields.update({"concurrent_solves": SolveSlots().count(), "task_seconds": time.perf_counter() - t0,
                       "code_version": payload.get("code_version")})
        return {"result": result, "fields": fields, "machine": machine.describe()}
    settings = _Settings(**payload["settings"])
    which = (settings.start_method, settings.preload, settings.threads)
    if which not in _RUNNERS:
        _RUNNERS[which] = Runner(settings, workdir=_worker_dir() / "dnnsplit-tasks")
    outcome = _RUNNERS[which].run_payload(payload)
    outcome["fields"].update(fields)
    outcome["machine"] = machine.describe()
    return outcome


def _executing(dask_worker: Any) -> list[str]:
    """Keys of the tasks this worker is executing (``client.run`` passes the worker)."""
    try:
        return [str(ts.key) for ts in dask_worker.state.executing]
    except AttributeError:
        return []


# ---------------------------------------------------------------------------------------------
# on the client


class DaskEngine:
    """Runs tasks as Dask futures: on a local cluster of ``workers`` single-threaded worker
    processes, on the scheduler at ``scheduler`` (an address or a scheduler file), or on a
    given ``client`` (a Python caller's own cluster, e.g. dask-jobqueue's SLURMCluster)."""

    def __init__(self, *, workers: int | None = None, scheduler: str | None = None, client: Any = None,
                 retries: int = DEFAULT_RETRIES, shared_instances: bool = False, connect_timeout: float = 30.0) -> None:
        why = dask_available()
        if why:
            raise CampaignError(f"--workers/--scheduler need Dask's distributed package, which does not import here ({why}); "
                                "install it with: pip install 'dnnsplit[cluster]'")
        import dask
        from distributed import Client, LocalCluster

        if retries < 0:
            raise CampaignError(f"--retries must be >= 0, got {retries}")
        self.shared_instances = shared_instances
        self.cluster = None
        self._own_client = client is None
        self._quiet_logs()
        if client is not None:
            self.client = client
            self.name = "dask"
            self.where = f"the given Dask client ({client.scheduler.address})"
        elif scheduler:
            self.name = "dask"
            kw: dict[str, Any] = {"timeout": connect_timeout}
            if Path(scheduler).is_file():
                kw["scheduler_file"] = scheduler
            else:
                kw["address"] = scheduler
            try:
                self.client = Client(**kw)
            except (OSError, TimeoutError, ValueError) as err:
                raise CampaignError(f"--scheduler {scheduler}: cannot connect within {connect_timeout:g} s ({err})") from None
            self.where = f"the Dask scheduler at {self.client.scheduler.address}"
        else:
            if not workers or workers < 1:
                raise CampaignError(f"--workers must be >= 1, got {workers}")
            self.name = "dask-local"
            # Worker processes inherit an ignored SIGINT (Python keeps it ignored), so a Ctrl-C
            # reaches this client only: it closes the cluster and every solve with it.
            main = threading.current_thread() is threading.main_thread()
            old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
            try:
                # no statistical profiler in the workers: it samples every thread's stack 100
                # times a second for a dashboard that is not started, competing with the solves
                with dask.config.set({"distributed.worker.daemon": False,
                                      "distributed.scheduler.allowed-failures": retries,
                                      "distributed.worker.profile.enabled": False}):
                    # loopback only: the scheduler, the workers and the scheduler's HTTP endpoint
                    # (no dashboard); no memory limit of Dask's own (each solve has the campaign's)
                    self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                host="127.0.0.1", dashboard_address=None,
                                                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                                                memory_limit=0, silence_logs=logging.CRITICAL)
            finally:
                if main:
                    signal.signal(signal.SIGINT, old)
            self.client = Client(self.cluster)
            self.where = f"a local Dask cluster of {workers} single-threaded worker processes"
        self.retries = self._allowed_failures(retries)
        self.code = code_version()
        self._futures: dict[Any, Task] = {}
        self._texts: dict[str, bytes] = {}
        self._submitted = 0
        self._processing: dict[str, float] = {}  # future key -> when first seen processing
        self._busy = 0
        self._last_poll = 0.0
        self._nthreads = self._count_workers()

    @staticmethod
    def _quiet_logs() -> None:
        """Dask logs reconnect attempts and worker restarts at length; the campaign reports
        what matters (the record's reason, a lost scheduler) itself."""
        for name in ("distributed", "distributed.client", "distributed.scheduler", "distributed.nanny",
                     "distributed.worker", "distributed.core", "distributed.comm"):
            logging.getLogger(name).setLevel(logging.CRITICAL)

    def _allowed_failures(self, asked: int) -> int:
        try:
            return int(self.client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.allowed_failures))
        except Exception:  # noqa: BLE001 - an old or restricted scheduler: report what was asked
            return asked

    # -- what the campaign loop asks -------------------------------------------------------
    def describe(self) -> str:
        return f"{self.name}: {self.where}; a worker that dies mid-solve: task retried up to {self.retries} times"

    def workers(self) -> int:
        """Worker threads (solves at once; at least 1), as of the last poll (asking the scheduler
        for every progress line would cost a round trip per task)."""
        return max(1, self._nthreads)

    def _count_workers(self) -> int:
        try:
            return sum(self.client.nthreads().values())
        except Exception:  # noqa: BLE001
            return getattr(self, "_nthreads", 1)

    def capacity(self) -> int:
        return 2 * self.workers()

    def in_flight(self) -> int:
        return len(self._futures)

    def busy(self) -> tuple[int, int]:
        """(solves running, workers connected): 0 workers while a batch queue has not started any."""
        return self._busy, self._nthreads

    def running(self) -> list[tuple[Task, float]]:
        by_key = {f.key: t for f, t in list(self._futures.items())}
        return [(by_key[k], since) for k, since in list(self._processing.items()) if k in by_key]

    def _text(self, task: Task) -> bytes:
        h = task.key.split("/", 1)[0]  # the instance hash
        if h not in self._texts:
            from instances.io import dumps

            self._texts[h] = zlib.compress(dumps(task.entry.instance).encode(), 6)
        return self._texts[h]

    def submit(self, task: Task, settings: Settings) -> None:
        payload = task_payload(task, settings, self.code)
        if self.shared_instances:
            if task.entry.path is None:
                raise CampaignError(f"{task.entry.instance.name}: --shared-instances needs instance files")
            payload["instance_file"] = str(Path(task.entry.path).resolve())
            payload["check_hash"] = True
        else:
            payload["instance_text_z"] = self._text(task)
        self._submitted += 1
        key = f"dnnsplit-solve-{self._submitted}-{task.key.split('/', 1)[0]}"
        try:
            future = self.client.submit(solve_on_worker, payload, key=key, pure=False)
        except Exception as err:  # noqa: BLE001 - a closed client: the scheduler is gone
            raise self._lost(err) from None
        self._futures[future] = task

    def _lost(self, err: BaseException) -> SchedulerLost:
        detail = str(err).splitlines()[0] if str(err) else ""
        return SchedulerLost(f"lost the Dask scheduler ({self.where}): {type(err).__name__}: {detail}; the records "
                             "written so far are valid: continue with --resume (on a running scheduler, or --workers N)")

    def _poll_processing(self) -> None:
        now = time.monotonic()
        if now - self._last_poll < PROCESSING_POLL_S:
            return
        self._last_poll = now
        try:  # what each worker executes now (the scheduler's "processing" also counts queued tasks)
            executing = self.client.run(_executing, wait=True)
        except Exception:  # noqa: BLE001 - progress only; a lost scheduler shows in wait()
            return
        keys = {k for ks in executing.values() for k in ks}
        self._nthreads = self._count_workers()
        self._busy = len(keys)
        self._processing = {k: self._processing.get(k, now) for k in keys}

    def wait(self, timeout: float) -> list[Done]:
        from distributed import wait as dask_wait
        from distributed.client import FutureCancelledError

        if not self._futures:
            return []
        try:
            done, _ = dask_wait(list(self._futures), timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            done = set()
        except (FutureCancelledError, OSError) as err:
            raise self._lost(err) from None
        except Exception as err:  # noqa: BLE001 - FuturesCancelledError and kin: the scheduler went away
            if "cancel" in type(err).__name__.lower() or "scheduler" in str(err).lower():
                raise self._lost(err) from None
            raise
        finished = []
        for future in done:
            task = self._futures.pop(future)
            self._processing.pop(future.key, None)
            finished.append(Done(task, self._outcome(future, task)))
        self._poll_processing()
        return finished

    def _outcome(self, future: Any, task: Task) -> dict[str, Any]:
        from distributed import KilledWorker

        try:
            outcome = future.result()
        except KilledWorker as err:
            first = str(err).split(". ")[0]
            message = (f"the worker running this task died {self.retries + 1} time(s) (killed, or out of memory); "
                       f"Dask gave up after {self.retries} retries (KilledWorker: {first})")
            outcome = {"result": failure_result(task.spec, "error", message, 0.0), "fields": {"worker": None}}
        except Exception as err:  # noqa: BLE001
            name = type(err).__name__
            if "cancel" in name.lower():
                raise self._lost(err) from None
            outcome = {"result": failure_result(task.spec, "error", f"Dask task failed: {name}: {err}", 0.0),
                       "fields": {"worker": None}}
        finally:
            future.release()
        outcome["fields"]["engine"] = self.name
        outcome["fields"].setdefault("code_version", self.code)
        return outcome

    def close(self) -> None:
        for future in list(self._futures):
            try:
                future.cancel()
            except Exception:  # noqa: BLE001
                pass
        self._futures.clear()
        if self._own_client:
            try:
                self.client.close(timeout=10)
            except Exception:  # noqa: BLE001
                pass
        if self.cluster is not None:
            try:
                self.cluster.close(timeout=10)
            except Exception:  # noqa: BLE001
                pass
