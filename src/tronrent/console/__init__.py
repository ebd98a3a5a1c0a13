"""The operator console: server-rendered pages under ``/admin`` (Jinja2 templates, htmx).

An adapter like the HTTP API: it reads and acts through the same domain services as the
``/api/admin`` routes (no business rule lives here), signs in with the admin accounts (the
``admin`` and ``operator`` roles), and ships every asset in the package (no CDN).

- :mod:`tronrent.console.web`: templates, static files, the page route class (errors as pages,
  login redirects), the navigation.
- :mod:`tronrent.console.session`: the session cookie and CSRF protection.
- one module per page group (``overview``, ``orders``...), each with its ``router``;
  :data:`tronrent.console.routers.CONSOLE_ROUTERS` lists them.
"""
