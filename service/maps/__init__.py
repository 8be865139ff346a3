"""What every map endpoint (OGC features, stats, tiles) shares: the request context, the
public or full view of incidents, the data versions ETags are built from, and the tallies
the triggers keep current. Maps build on event/, geography/, theatre/ and auth/; the map
endpoints import maps, never the other way round."""
