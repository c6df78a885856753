"""Migration versions, applied in order by :func:`opencaller.store.migrate.upgrade`."""
