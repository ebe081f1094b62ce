"""Staff access: sign-in sessions, CSRF, login throttling, the staff guard and the user administration pages."""
