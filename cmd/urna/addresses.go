package main

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/urna-vote/urna/chain/genesis"
)

// placeStations sets the stations' addresses of a template before its
// genesis is made. With list, the addresses are those (config order).
// Without, the config's stay, unless they are all loopback addresses and
// one of them cannot be bound here: then every station gets a free
// loopback port (moved is true), so that a test election runs on any
// machine.
func placeStations(cfg *genesis.Config, list string) (moved bool, err error) {
	if list != "" {
		addrs := strings.Split(list, ",")
		if len(addrs) != len(cfg.Stations) {
			return false, fmt.Errorf("--addresses has %d addresses, the config %d stations", len(addrs), len(cfg.Stations))
		}
		for i := range cfg.Stations {
			cfg.Stations[i].Address = strings.TrimSpace(addrs[i])
		}
		return false, nil
	}
	free := true
	for _, st := range cfg.Stations {
		ap, err := netip.ParseAddrPort(st.Address)
		if err != nil || !ap.Addr().IsLoopback() {
			return false, nil // real hosts: not ours to check
		}
		if c, err := net.ListenPacket("udp", st.Address); err != nil {
			free = false
		} else {
			c.Close()
		}
	}
	if free {
		return false, nil
	}
	for i := range cfg.Stations {
		port, err := freePort("udp")
		if err != nil {
			return false, err
		}
		cfg.Stations[i].Address = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	}
	return true, nil
}

// nodeConfigs makes each station's config.yaml: it listens on its address's
// port, on listenHost if given, and serves metrics as the metrics flag
// says.
func nodeConfigs(cfg *genesis.Config, listenHost, metrics string) ([]*nodeConfig, error) {
	if metrics != "auto" && metrics != "off" {
		if err := checkHostPort(metrics); err != nil {
			return nil, fmt.Errorf("--metrics: %w", err)
		}
	}
	var out []*nodeConfig
	for _, st := range cfg.Stations {
		host, port, err := net.SplitHostPort(st.Address)
		if err != nil {
			return nil, fmt.Errorf("station %s: address %q: %w", st.ID, st.Address, err)
		}
		if listenHost != "" {
			host = listenHost
		}
		c := &nodeConfig{Listen: net.JoinHostPort(host, port)}
		switch metrics {
		case "off":
		case "auto":
			// The station's port + 1000 if it is free, any free port if not.
			p, _ := strconv.Atoi(port)
			try := net.JoinHostPort("127.0.0.1", strconv.Itoa(p+1000))
			if l, err := net.Listen("tcp", try); err == nil && p+1000 <= 65535 {
				l.Close()
				c.Metrics = try
			} else {
				fp, err := freePort("tcp")
				if err != nil {
					return nil, err
				}
				c.Metrics = net.JoinHostPort("127.0.0.1", strconv.Itoa(fp))
			}
		default:
			c.Metrics = metrics
		}
		out = append(out, c)
	}
	return out, nil
}

// freePort asks the system for a free loopback port.
func freePort(network string) (int, error) {
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
