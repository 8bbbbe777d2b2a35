"""Many videos: a manifest of jobs run by local worker processes or on a Ray cluster.

>>> from segany_video.batch import run_batch
>>> report = run_batch("manifest.yaml", workers=2)
>>> report.ok, [(job.input, job.status) for job in report.jobs]
"""

from __future__ import annotations

from segany_video.batch.manifest import Job, Manifest, load_manifest
from segany_video.batch.report import BatchReport
from segany_video.batch.run import run_batch
from segany_video.batch.runner import JobResult

__all__ = ["BatchReport", "Job", "JobResult", "Manifest", "load_manifest", "run_batch"]
