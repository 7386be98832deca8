"""The learner's pages, served by ``roadmap-agent serve`` itself: Jinja2 templates, a little vendored JavaScript
(htmx), no CDN and no build step. ``install_web(app, settings)`` mounts them (web/mount.py)."""
