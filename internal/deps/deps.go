// Package deps pins module dependencies until real code imports them.
package deps

import (
	_ "github.com/coder/websocket"
	_ "github.com/go-chi/chi/v5"
	_ "github.com/go-chi/httprate"
	_ "github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/klauspost/compress/gzip"
	_ "github.com/osrg/gobgp/v3/api"
	_ "github.com/osrg/gobgp/v3/pkg/packet/bgp"
	_ "github.com/osrg/gobgp/v3/pkg/packet/mrt"
	_ "github.com/osrg/gobgp/v3/pkg/server"
	_ "github.com/pressly/goose/v3"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "golang.org/x/term"
	_ "gopkg.in/yaml.v3"
)
