"""The course server: accounts, the durable submission queue, grading workers, analytics and the JSON API.

The pages that use it live in ``simulator/app/pages/course/``; ``serve.py --course DIR`` serves both.
"""
