# Build: the official Go image, a static binary (no cgo: PocketBase uses a
# pure-Go SQLite).
FROM golang:1.27.3-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/marketchat . \
 && mkdir -p /out/pb_data

# Run: distroless, non-root, data in a volume.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/marketchat /marketchat
COPY --from=build --chown=nonroot:nonroot /out/pb_data /pb_data
USER nonroot:nonroot
VOLUME /pb_data
EXPOSE 8090
ENTRYPOINT ["/marketchat"]
CMD ["serve", "--http=0.0.0.0:8090", "--dir=/pb_data"]
