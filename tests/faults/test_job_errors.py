"""A careless command line gets one readable line and exit code 2, never a traceback (issue 14).
None of these start Spark: the job stops at its configuration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "ingest.image_batch_files=abc"], "ingest.image_batch_files"),
        (["--set", "ingest.no_such_key=1"], "no_such_key"),
        (["--set", "ingest.fallback_encoding=klingon"], "unknown fallback_encoding 'klingon'"),
        (["--set", "no-equals-sign"], "is not KEY.PATH=VALUE"),
        (["--conf", "/nonexistent/missing.yaml"], "conf file not found"),
    ],
)
def test_a_bad_conf_or_set_is_one_line_and_exit_code_2(args, message, capsys):
    import jobs.ingest

    with pytest.raises(SystemExit) as stopped:
        jobs.ingest.main([*args, "--images", "unused"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


def test_unpaired_labels_files_are_a_usage_error(capsys):
    import jobs.ingest

    args = ["--listings", "a.csv", "--listings", "b.csv", "--listings", "c.csv"]
    with pytest.raises(SystemExit) as stopped:
        jobs.ingest.main([*args, "--labels", "y1.csv", "--labels", "y2.csv"])
    assert stopped.value.code == 2
    assert "one --labels file per --listings file" in capsys.readouterr().err


def test_spark_submit_names_a_missing_conf_file(tmp_path):
    missing = tmp_path / "missing.yaml"  # its folder exists and holds no conf file at all
    completed = subprocess.run(
        [str(REPO / "spark-submit.sh"), "ingest", "--conf", str(missing), "--images", "x"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2
    assert completed.stderr.strip() == f"conf file not found: {missing} (see {REPO}/conf/)"


def test_a_lakehouse_that_is_a_file_is_a_usage_error(tmp_path, capsys):
    import jobs.ingest

    afile = tmp_path / "lakehouse"
    afile.write_text("not a folder")
    with pytest.raises(SystemExit) as stopped:
        jobs.ingest.main(["--lakehouse", str(afile), "--images", str(tmp_path)])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip() == (
        f"error: the lakehouse {afile} is a file: give --lakehouse a folder"
    )


def test_a_run_that_fails_is_one_line_and_exit_code_1(spark, tmp_path, capsys):
    import jobs.ingest

    (tmp_path / "afile").write_text("")
    inside_a_file = tmp_path / "afile" / "lakehouse"
    code = jobs.ingest.main(
        [
            "--lakehouse",
            str(inside_a_file),
            "--set",
            "delta_engine=delta-rs",
            "--set",
            "spark.conf.spark.sql.shuffle.partitions=2",
            "--set",
            "spark.conf.spark.sql.codegen.wholeStage=false",
            "--images",
            str(tmp_path),
        ]
    )
    # Only the job's own lines: the log handler of an earlier test in this process may still
    # point at that test's captured (closed) stream, and says so on stderr.
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert code == 1
    assert len(errors) == 1 and errors[0].startswith(
        "error: ingest failed: NotADirectoryError: [Errno 20] Not a directory"
    ), errors


def test_a_pipeline_that_fails_is_one_line_and_exit_code_1(spark, tmp_path, capsys):
    import jobs.pipeline

    (tmp_path / "afile").write_text("")
    code = jobs.pipeline.main(
        [
            "--lakehouse",
            str(tmp_path / "afile" / "lakehouse"),
            "--set",
            "delta_engine=delta-rs",
            "--set",
            "spark.conf.spark.sql.shuffle.partitions=2",
            "--set",
            "spark.conf.spark.sql.codegen.wholeStage=false",
            "--images",
            str(tmp_path),
            "--no-train",
        ]
    )
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert code == 1
    assert len(errors) == 1 and errors[0].startswith(
        "error: pipeline failed: NotADirectoryError: [Errno 20] Not a directory"
    ), errors


def test_unpaired_labels_files_are_a_usage_error_of_the_pipeline_too(capsys):
    import jobs.pipeline

    args = ["--listings", "a.csv", "--listings", "b.csv", "--listings", "c.csv"]
    with pytest.raises(SystemExit) as stopped:
        jobs.pipeline.main([*args, "--labels", "y1.csv", "--labels", "y2.csv"])
    assert stopped.value.code == 2
    assert "one --labels file per --listings file" in capsys.readouterr().err


def test_scoring_a_project_with_no_model_is_one_line_and_exit_code_1(spark, tmp_path, capsys):
    import jobs.score

    code = jobs.score.main(
        [
            "--lakehouse",
            str(tmp_path / "lakehouse"),
            "--set",
            "delta_engine=delta-rs",
            "--set",
            "spark.conf.spark.sql.shuffle.partitions=2",
        ]
    )
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert code == 1
    assert len(errors) == 1 and errors[0].startswith("error: score failed: "), errors
    assert "no registered version" in errors[0] and "train it first" in errors[0], errors


# Whole jobs on a broken environment, about 40 s each: the full tier's, not the inner loop's.
@pytest.mark.slow
@pytest.mark.parametrize("engine", ["delta-rs", "delta-spark"])
def test_a_read_only_lakehouse_is_one_line_and_exit_1_and_a_run_with_nothing_to_write_passes(
    spark, tmp_path, engine
):
    """The lakehouse bind-mounted read-only in a mount namespace of the job's own (root can
    write through file permissions, not through a read-only mount). On the connector the failed
    tasks' Java stack traces (some 300 lines from the executor, the task set and the writer)
    go to the run's log file, not the terminal (issue 32)."""
    import jobs.ingest

    lakehouse = tmp_path / "lakehouse"
    first = tmp_path / "X.csv"
    first.write_text(",designation,description,productid,imageid\n0,Lampe,,1,2\n")
    settings = ["--set", f"delta_engine={engine}", "--set", "spark.master=local[2]"]
    settings += ["--set", f"log_dir={tmp_path / 'logs'}"]
    settings += ["--set", "spark.conf.spark.sql.shuffle.partitions=2"]
    assert (
        jobs.ingest.main(["--lakehouse", str(lakehouse), *settings, "--listings", str(first)]) == 0
    )
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount --bind {lakehouse} {lakehouse}"],
        capture_output=True,
    )
    if probe.returncode != 0:
        pytest.skip(f"no private read-only mount here: {probe.stderr.decode().strip()}")
    second = tmp_path / "X2.csv"
    second.write_text(first.read_text() + "1,Table,,3,4\n")
    job = [sys.executable, str(REPO / "jobs" / "ingest.py"), "--lakehouse", str(lakehouse)]
    mount = f"mount --bind {lakehouse} {lakehouse} && mount -o remount,bind,ro {lakehouse}"

    def read_only_run(listings: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["unshare", "-m", "sh", "-c", f'{mount} && exec "$@"', "sh", *job, *settings]
            + ["--listings", str(listings)],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHONPATH": str(REPO / "lib")},
        )

    # The same file again: nothing to write, so nothing is written and the run passes.
    same = read_only_run(first)
    assert same.returncode == 0, same.stderr[-2000:]
    completed = read_only_run(second)
    errors = [line for line in completed.stderr.splitlines() if line.startswith("error:")]
    assert completed.returncode == 1, completed.stderr[-2000:]
    assert len(errors) == 1 and errors[0].startswith(
        f"error: ingest failed: the lakehouse {lakehouse} is read-only: give --lakehouse"
    ), errors
    assert "Traceback" not in completed.stderr
    # No Java stack frame on the terminal; the error line names the log file holding the trace.
    assert not [line for line in completed.stderr.splitlines() if line.startswith("\tat ")]
    log_file = Path(errors[0].rsplit("(full trace in ", 1)[1].rstrip(")"))
    assert log_file.parent == tmp_path / "logs" and "Traceback" in log_file.read_text()
