"""sfsync.metrics: Prometheus text exposition of a worker run, written atomically."""

from __future__ import annotations

from sfsync.metrics import render_metrics, write_metrics_file


def test_render_is_exact_and_skips_missing_values():
    text = render_metrics({"checked": 3, "notified": 2, "escalated": 0, "failed": 1, "api_calls": 7,
                           "duration_seconds": 1.25, "exit_code": 2, "finished_at": 1764723600.5, "error": None},
                          org='dealer "prod"')
    assert text == (
        '# HELP sfsync_overdue_checked Reservations read from the org in the last run.\n'
        '# TYPE sfsync_overdue_checked gauge\n'
        'sfsync_overdue_checked{org="dealer \\"prod\\""} 3\n'
        '# HELP sfsync_overdue_notified Reservations whose first notice was sent and stamped in the last run.\n'
        '# TYPE sfsync_overdue_notified gauge\n'
        'sfsync_overdue_notified{org="dealer \\"prod\\""} 2\n'
        '# HELP sfsync_overdue_escalated Reservations escalated to the store manager and stamped in the last run.\n'
        '# TYPE sfsync_overdue_escalated gauge\n'
        'sfsync_overdue_escalated{org="dealer \\"prod\\""} 0\n'
        '# HELP sfsync_overdue_failed Reservations left for the next run because of a per-item failure in the last run.\n'
        '# TYPE sfsync_overdue_failed gauge\n'
        'sfsync_overdue_failed{org="dealer \\"prod\\""} 1\n'
        '# HELP sfsync_overdue_api_calls HTTP requests the last run sent to the org, login included.\n'
        '# TYPE sfsync_overdue_api_calls gauge\n'
        'sfsync_overdue_api_calls{org="dealer \\"prod\\""} 7\n'
        '# HELP sfsync_overdue_duration_seconds Wall time of the last run in seconds.\n'
        '# TYPE sfsync_overdue_duration_seconds gauge\n'
        'sfsync_overdue_duration_seconds{org="dealer \\"prod\\""} 1.25\n'
        '# HELP sfsync_overdue_exit_code Exit code of the last run (0 done, 1 could not run, 2 items failed, 3 API limit).\n'
        '# TYPE sfsync_overdue_exit_code gauge\n'
        'sfsync_overdue_exit_code{org="dealer \\"prod\\""} 2\n'
        '# HELP sfsync_overdue_last_run_timestamp_seconds Unix time the last run ended.\n'
        '# TYPE sfsync_overdue_last_run_timestamp_seconds gauge\n'
        'sfsync_overdue_last_run_timestamp_seconds{org="dealer \\"prod\\""} 1764723600.5\n'
    )
    assert render_metrics({"exit_code": 1}, org="x").splitlines()[-1] == 'sfsync_overdue_exit_code{org="x"} 1'


def test_write_replaces_the_file_whole(tmp_path):
    target = tmp_path / "textfile" / "sfsync.prom"
    write_metrics_file(target, "a 1\n")
    write_metrics_file(target, "a 2\n")
    assert target.read_text() == "a 2\n"
    assert [p.name for p in target.parent.iterdir()] == ["sfsync.prom"]
    assert oct(target.stat().st_mode & 0o777) == "0o644"
