"""Small widgets: each takes attributes from the app and posts messages up."""
