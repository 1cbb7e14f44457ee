"""The course pages: sign-in, submit and live status, feedback, and the instructor's dashboard."""
