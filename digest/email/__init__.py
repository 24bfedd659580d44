"""The email: takes an Issue and gives its subject, preheader, MJML, HTML and plain text, through
the Jinja2 templates and mjml-python, and refuses templates or HTML that are not safe to send.
The only stage that knows MJML."""
