"""A reliable work queue.

    work(r, handle, ctx)   take jobs from the list "jobs" and call handle(job) for each,
                           until the list is empty (then return)
    recover(r, ctx)        run after a crash: put back every job a dead worker had taken

Two workers run; one crashes in the middle of a job. As shipped, that job is lost.
"""


def work(r, handle, ctx):
    while True:
        job = r.lpop("jobs")
        if job is None:
            return
        handle(job)


def recover(r, ctx):
    pass
