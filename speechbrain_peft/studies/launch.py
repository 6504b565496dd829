"""Running a study's planned runs: here, one after another, or as
submitit jobs (a SLURM job array, or submitit's local executor).

Each run is its recipe's command line in a fresh interpreter, its output
appended to ``<study>/logs/<run>.log``, with ``--skip_finished``: a run
that finished with the same identity is left as it is (and counted so),
an interrupted one resumes from its last checkpoint, a folder holding
another run fails with the recipe's message. Stage ones run first; a
stage two starts once its parent has finished, and is not run when the
parent failed. A failed run is reported with its log's last lines and the
others go on.

Authors
 * speechbrain-peft-ser developers 2026
"""

import datetime
import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path

import submitit
from submitit.core.utils import FailedJobError, UncompletedJobError

logger = logging.getLogger(__name__)

EXECUTORS = ("here", "local", "slurm")
# submitit's own default (5 minutes on SLURM, 2 locally) would stop a
# training run; a cluster's limit is set with --executor_options.
DEFAULT_TIMEOUT_MIN = 24 * 60
LOG_TAIL = 15
FINISHED_BEFORE = "finished before"
RAN = "ran"
FAILED = "failed"
PARENT_FAILED = "not run: parent failed"


@dataclass
class Outcome:
    """What became of one planned run."""

    run: object
    status: str
    log: Path
    detail: str = ""

    def to_dict(self):
        """JSON form for ``study.json``."""
        return {
            "name": self.run.name,
            "status": self.status,
            "output_folder": str(self.run.output_folder),
            "log": str(self.log),
            "detail": self.detail,
            "parent": None if self.run.parent is None else self.run.parent.name,
            "command": self.run.command(),
        }


class RecipeJob(submitit.helpers.Checkpointable):
    """One run's recipe in a fresh interpreter, as a submitit job; on a
    SLURM timeout or preemption it is requeued and the run resumes from
    its last checkpoint."""

    def __call__(self, command, log, results, cwd):
        """Run ``command`` with output appended to ``log``; return
        ``{"returncode", "finished_before"}`` (``results`` was there before
        and the run left it as it was)."""
        results = Path(results)
        before = results.stat().st_mtime_ns if results.is_file() else None
        log = Path(log)
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a", encoding="utf-8") as handle:
            stamp = datetime.datetime.now().isoformat(timespec="seconds")
            handle.write(f"\n# {stamp} $ {' '.join(command)}\n")
            handle.flush()
            returncode = subprocess.run(
                command, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT
            ).returncode
        after = results.stat().st_mtime_ns if results.is_file() else None
        return {
            "returncode": returncode,
            "finished_before": before is not None and after == before,
        }


def run_study(runs, study_folder, executor="here", options=None):
    """Run ``runs`` (stage ones, then each stage two whose parent
    finished) and return one :class:`Outcome` per run, in plan order.

    Arguments
    ---------
    runs : list of StudyRun
        See :func:`~speechbrain_peft.studies.plan.plan_study`.
    study_folder : pathlib.Path
        Holds ``logs/`` and, for submitit, ``jobs/``.
    executor : str
        ``here`` (one after another in this process' machine), ``local``
        (submitit's local executor: all at once) or ``slurm`` (a job array).
    options : dict, optional
        submitit parameters (``timeout_min``, ``gpus_per_node``,
        ``slurm_partition``, ``slurm_array_parallelism``...).
    """
    study_folder = Path(study_folder)
    launch = _launcher(executor, study_folder / "jobs", options or {})
    outcomes = {}
    waves = [
        [run for run in runs if run.parent is None],
        [run for run in runs if run.parent is not None],
    ]
    for wave in waves:
        ready = []
        for run in wave:
            parent = outcomes.get(
                None if run.parent is None else run.parent.name
            )
            if parent is not None and parent.status == FAILED:
                outcome = Outcome(run, PARENT_FAILED, _log(study_folder, run))
                outcomes[run.name] = outcome
                _report(outcome, len(outcomes), len(runs))
            else:
                ready.append(run)
        for outcome in launch(ready, study_folder):
            outcomes[outcome.run.name] = outcome
            _report(outcome, len(outcomes), len(runs))
    return [outcomes[run.name] for run in runs]


def _log(study_folder, run):
    return study_folder / "logs" / f"{run.name}.log"


def _job_arguments(run, study_folder):
    return (
        run.command(),
        str(_log(study_folder, run)),
        str(run.results),
        str(Path.cwd()),
    )


def _outcome(run, study_folder, result):
    """The :class:`Outcome` of a job's result (or of the error it ended
    with)."""
    log = _log(study_folder, run)
    if isinstance(result, Exception):
        return Outcome(run, FAILED, log, _tail(str(result)))
    if result["returncode"] != 0:
        detail = _tail(log.read_text(encoding="utf-8", errors="replace"))
        return Outcome(run, FAILED, log, detail)
    return Outcome(
        run, FINISHED_BEFORE if result["finished_before"] else RAN, log
    )


def _tail(text):
    return "\n".join(text.rstrip().splitlines()[-LOG_TAIL:])


def _launcher(executor, jobs_folder, options):
    """A function running a list of runs and yielding their outcomes."""
    if executor == "here":
        return _run_here
    parameters = {"timeout_min": DEFAULT_TIMEOUT_MIN, **options}
    submitter = submitit.AutoExecutor(folder=jobs_folder, cluster=executor)
    submitter.update_parameters(**parameters)

    def submitted(runs, study_folder):
        return _run_as_jobs(submitter, runs, study_folder)

    return submitted


def _run_here(runs, study_folder):
    for run in runs:
        print(f"[study] {run.name}: starting", flush=True)
        yield _outcome(
            run, study_folder, RecipeJob()(*_job_arguments(run, study_folder))
        )


def _run_as_jobs(submitter, runs, study_folder):
    """Submit ``runs`` as one job array and yield outcomes as jobs end."""
    if not runs:
        return
    arguments = [_job_arguments(run, study_folder) for run in runs]
    jobs = submitter.map_array(RecipeJob(), *zip(*arguments))
    by_job = {id(job): run for job, run in zip(jobs, runs)}
    print(
        f"[study] submitted {len(jobs)} run(s) as jobs {jobs[0].job_id}.."
        f"{jobs[-1].job_id} (submitit's files: {submitter.folder})",
        flush=True,
    )
    for job in submitit.helpers.as_completed(jobs, poll_frequency=1):
        try:
            result = job.result()
        except (UncompletedJobError, FailedJobError) as error:
            result = error
        yield _outcome(by_job[id(job)], study_folder, result)


def _report(outcome, done, total):
    print(
        f"[study] {done}/{total} {outcome.run.name}: {outcome.status}",
        flush=True,
    )
    if outcome.status == FAILED:
        print(
            f"[study] last lines of {outcome.log}:\n{outcome.detail}",
            flush=True,
        )
