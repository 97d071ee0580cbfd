"""The console: server-rendered pages for store staff (the till) and admins (operators, stores), on the
same services as the JSON API (docs/layers.md: above every domain it shows, below the demo and the server)."""
