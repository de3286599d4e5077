"""``python -m voxflow.worker``: the chunk queues' consumer in the primary's GPU containers.

    python -m voxflow.worker                      # settings from the environment (ECS)
    python -m voxflow.worker --check-ready        # exit 0 if warm and beating (health check)

The local stack runs it through ``python -m voxflow_local.worker`` (infra/local), which
sets the environment a local region's function gets, then calls ``main``.

Start: settings, handler import (loads the voice), one warm-up synthesis, then
the ready file and the heartbeat, then batches. SIGTERM or SIGINT: finish the
batch in hand, release what was received but not started, exit 0; a second
signal releases the batch in hand too and exits 128 + the signal number.
"""

import argparse
import logging
import os
import signal
import socket
import sys
import time
from types import FrameType
from typing import TYPE_CHECKING, Any

from voxflow.errors import SettingsError

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m voxflow.worker")
    parser.add_argument(
        "--check-ready", action="store_true", help="exit 0 if ready and beating, else 1"
    )
    args = parser.parse_args(argv)
    if args.check_ready:
        return _check_ready()  # before anything heavy is imported: it runs every few seconds

    logger = _service_logger()
    worker = _Worker(logger)
    signal.signal(signal.SIGTERM, worker.on_signal)
    signal.signal(signal.SIGINT, worker.on_signal)
    try:
        return worker.run()
    except SettingsError as error:
        logger.error("bad settings", extra={"error": str(error)})
        return 2
    except Exception:  # a broken image or an unreachable queue: ECS starts a fresh task
        logger.exception("start failed")
        return 1


def _check_ready() -> int:
    from voxflow.config import Config
    from voxflow.worker.readiness import is_ready
    from voxflow.worker.settings import ReadinessSettings

    try:
        readiness = ReadinessSettings.of(Config.load())
    except SettingsError as error:
        print(f"voxflow.worker: {error}", file=sys.stderr)
        return 1
    return 0 if is_ready(readiness.ready_file, readiness.heartbeat_s) else 1


class _Worker:
    def __init__(self, logger: "Logger") -> None:
        from voxflow.worker.loop import StopSignal

        self.logger = logger
        parent = os.getppid()
        # Re-parented means whoever started us died without stopping us (the local stack).
        self.stop = StopSignal(also_stop_when=lambda: os.getppid() != parent)
        self.warming = True
        self.last_signal = signal.SIGTERM

    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.last_signal = signal.Signals(signum)
        if self.warming:
            os._exit(0)  # nothing received yet, nothing to finish or release
        self.stop.request()

    def run(self) -> int:
        from voxflow.aws import AwsClients, AwsSettings
        from voxflow.config import WORKER, Config
        from voxflow.config import variables as env
        from voxflow.heap import freeze_warm_process
        from voxflow.worker.handler import load_handler, warm_up
        from voxflow.worker.heartbeat import Heartbeat
        from voxflow.worker.loop import Aborted, BatchLoop, WorkerContext
        from voxflow.worker.readiness import write_ready_file
        from voxflow.worker.settings import WorkerSettings

        config = Config.load(deployable=WORKER)  # every variable checked, before any work
        settings = WorkerSettings.of(config)
        aws = AwsSettings.of(config)
        clients = AwsClients(aws)
        settings.ready_file.unlink(missing_ok=True)  # a previous run's, in the same container
        started = time.perf_counter()
        queue_arn = _queue_arn(clients.sqs, settings.chunks_queue_url)
        long_url = settings.long_chunks_queue_url
        long_queue_arn = _queue_arn(clients.sqs, long_url) if long_url else None
        recovery_url = settings.recovery_chunks_queue_url
        recovery_queue_arn = _queue_arn(clients.sqs, recovery_url) if recovery_url else None
        loaded = load_handler(settings)
        warm = warm_up(loaded.pipeline)
        # The voice's session, boto3's models, the handler's modules: alive for the task's
        # life, out of every full collection's walk from here on (voxflow.heap).
        frozen = freeze_warm_process()
        ready = {
            "frozen_objects": frozen,
            "pid": os.getpid(),
            "provider": warm.provider,
            "import_s": round(loaded.import_s, 3),
            "warm_up_s": round(warm.synthesis_s, 3),
            "ready_s": round(time.perf_counter() - started, 3),
            "queue": settings.chunks_queue_url,
            "long_queue": long_url,
            "recovery_queue": recovery_url,
        }
        self.warming = False  # from here a signal stops the loop, which removes the file
        write_ready_file(settings.ready_file, ready)
        self.logger.info("ready", extra=ready)

        heartbeat = Heartbeat(
            clients.cloudwatch,
            region=aws.region,
            provider=warm.provider,
            interval_s=settings.heartbeat_s,
            ready_file=settings.ready_file,
        )
        name = config[env.AWS_LAMBDA_FUNCTION_NAME]
        loop = BatchLoop(
            clients.sqs,
            settings,
            loaded.handler,
            queue_arn=queue_arn,
            region=aws.region,
            stop=self.stop,
            new_context=lambda: WorkerContext(
                name, f"voxflow-worker:{socket.gethostname()}:{os.getpid()}"
            ),
            describe=lambda _: {"provider": warm.provider},
            long_queue_arn=long_queue_arn,
            recovery_queue_arn=recovery_queue_arn,
        )
        heartbeat.start()
        code = 0
        try:
            loop.run()
        except Aborted as aborted:
            self.logger.warning("aborted", extra={"reason": str(aborted)})
            code = 128 + self.last_signal
        finally:
            heartbeat.stop()
            settings.ready_file.unlink(missing_ok=True)
        self.logger.info("stopped", extra={"heartbeats": heartbeat.sent, "code": code})
        if code:
            logging.shutdown()
            os._exit(code)  # the handler's thread is still running the released batch
        return code


def _queue_arn(sqs: Any, queue_url: str) -> str:
    arn: str = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    return arn


def _service_logger() -> "Logger":
    """The functions' powertools Logger (service from POWERTOOLS_SERVICE_NAME, level from
    LOG_LEVEL), so the worker's lines on ECS have the schema of the same code's lines on
    Lambda. The handler's own Logger() and the worker modules' child loggers find it
    configured and write through its handler: one stream, one format."""
    from aws_lambda_powertools import Logger

    return Logger()


if __name__ == "__main__":
    sys.exit(main())
