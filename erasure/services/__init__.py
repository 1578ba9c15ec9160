"""Writes: every business action is one function here, with keyword-only arguments.

Entry points (API views, the admin, webhooks, tasks, commands) call these and never write
domain rows themselves. Each action writes its audit event in its own transaction.
"""
