# check=skip=DuplicateStageName
FROM debian:bookworm-slim AS build
FROM build AS final
