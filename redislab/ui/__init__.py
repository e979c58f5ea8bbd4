"""Terminal front ends: the REPL, reply rendering, annotations and help (rich/prompt-toolkit).

Layout:
    render.py     replies as redis-cli prints them
    annotate.py   the line under each reply: cost, events, pitfalls (pluggable sources/rules)
    docs.py       help cards from the command table
    backend.py    named clients on an embedded engine, with the per-call record
    startup.py    building the engine from options and redis.conf
    batch.py      ``redislab exec`` and piped input
    repl/         the interactive REPL, assembled from small parts
"""
