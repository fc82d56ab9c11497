package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urna-vote/urna/chain/genesis"
)

// runInit makes a complete local test election from a config template.
func runInit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("init", "urna init --config election-configs/mayor.yaml --out /tmp/mayor --voters 200", stderr)
	config := fs.String("config", "", "election config (a template from election-configs/)")
	out := fs.String("out", "", "directory to create")
	voters := fs.Int("voters", 0, "number of voting codes (default: the config's voter_roll.voters)")
	addresses := fs.String("addresses", "", "the stations' host:port, comma-separated in config order, written into the genesis\n(default: the config's; if those are loopback addresses and taken, free loopback ports)")
	listenHost := fs.String("listen-host", "", "host every node binds (default: the host of its address; 0.0.0.0 in containers)")
	metrics := fs.String("metrics", "auto", "every node's metrics address: \"auto\" (a free loopback port each), \"off\",\nor HOST:PORT (the same for all: for containers)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *config == "" || *out == "" {
		fs.Usage()
		return errUsage
	}
	cfg, form, err := genesis.LoadConfig(*config)
	if err != nil {
		return err
	}
	if form != genesis.FormTemplate {
		return fmt.Errorf("%s already has keys: init needs a template (keys and roll hash left out)", *config)
	}
	s, nodes, moved, err := makeElection(cfg, *out, *voters, *addresses, *listenHost, *metrics)
	if err != nil {
		return err
	}
	fp := s.Genesis.Fingerprint()
	fmt.Fprintf(stdout, "election %s: %d stations, %d officials, %d voters\n", s.Genesis.ElectionID(), s.Genesis.N(), len(s.OfficialSeeds), len(s.Codes))
	fmt.Fprintf(stdout, "fingerprint %x\n", fp)
	if moved {
		fmt.Fprintln(stdout, "the config's addresses are taken on this machine: the stations listen on free loopback ports instead")
	}
	for i, st := range cfg.Stations {
		m := nodes[i].Metrics
		if m == "" {
			m = "off"
		}
		fmt.Fprintf(stdout, "station %-10s %-22s listen %-22s metrics %-22s home %s\n", st.ID, st.Address, nodes[i].Listen, m, filepath.Join(*out, "station-"+st.ID))
	}
	fmt.Fprintf(stdout, "written to %s (the files under officials/, voters/ and station-*/node.key are secret)\n", *out)
	return nil
}

// makeElection generates an election from a template (voters codes, or the
// template's count when 0) and writes it to out, which must not exist: the
// election directory (see writeElection) and every station's config.yaml.
// addresses, listenHost and metrics are init's flags. moved says the
// template's loopback addresses were taken and free ports were used.
func makeElection(cfg *genesis.Config, out string, voters int, addresses, listenHost, metrics string) (*genesis.Setup, []*nodeConfig, bool, error) {
	if _, err := os.Stat(out); err == nil {
		return nil, nil, false, fmt.Errorf("%s %w", out, errExists)
	}
	moved, err := placeStations(cfg, addresses)
	if err != nil {
		return nil, nil, false, err
	}
	s, err := genesis.Generate(cfg, voters, nil)
	if err != nil {
		return nil, nil, false, err
	}
	nodes, err := nodeConfigs(cfg, listenHost, metrics)
	if err != nil {
		return nil, nil, false, err
	}
	if err := writeElection(out, s); err != nil {
		os.RemoveAll(out)
		return nil, nil, false, err
	}
	for i, st := range cfg.Stations {
		if err := writeNodeConfig(filepath.Join(out, "station-"+st.ID, homeConfig), nodes[i]); err != nil {
			os.RemoveAll(out)
			return nil, nil, false, err
		}
	}
	return s, nodes, moved, nil
}

// writeElection lays out an election directory:
//
//	genesis.json, voter-roll.txt     public
//	station-ID/                      a station home (see home.go), one per station
//	officials/ID.key                 each official's secret key
//	voters/codes.csv                 the secret voting codes, one per voter
func writeElection(dir string, s *genesis.Setup) error {
	for _, d := range []string{dir, filepath.Join(dir, "officials"), filepath.Join(dir, "voters")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	gen, roll := s.Genesis.Encode(), s.Roll.Encode()
	if err := os.WriteFile(filepath.Join(dir, homeGenesis), gen, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, homeRoll), roll, 0o644); err != nil {
		return err
	}
	for i, st := range s.Config.Stations {
		sd := filepath.Join(dir, "station-"+st.ID)
		if err := os.MkdirAll(sd, 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(sd, homeGenesis), gen, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(sd, homeRoll), roll, 0o644); err != nil {
			return err
		}
		if err := writeKey(filepath.Join(sd, homeKey), s.StationSeeds[i]); err != nil {
			return err
		}
	}
	for i, o := range s.Config.Officials.Members {
		if err := writeKey(filepath.Join(dir, "officials", o.ID+".key"), s.OfficialSeeds[i]); err != nil {
			return err
		}
	}
	var codes strings.Builder
	codes.WriteString("voter,code\n")
	for i, c := range s.Codes {
		fmt.Fprintf(&codes, "%d,%s\n", i+1, c)
	}
	return os.WriteFile(filepath.Join(dir, "voters", "codes.csv"), []byte(codes.String()), 0o600)
}
