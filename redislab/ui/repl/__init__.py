"""The interactive REPL: a pure suggester, completer, hint, lexer, toolbar, meta-commands.

``shell.Shell`` handles lines without a terminal; ``app.run_repl`` wraps it in prompt-toolkit.
"""
