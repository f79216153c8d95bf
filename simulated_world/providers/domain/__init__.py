"""Pure provider rules: catalog, holds, capacity, payments and chaos; standard library only."""
