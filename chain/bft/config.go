package bft

import (
	"fmt"
	"time"
)

// Signer signs our votes and proposals. The production implementation is the durable
// double-sign guard (package chain/bft/signer): it persists the last (height, round,
// step) it signed before releasing a signature and refuses anything that would
// conflict with what it already signed. A refusal is not an error for the core: the
// message is simply not sent (Ready.Dropped records DropSignerRefused).
type Signer interface {
	// SignVote fills v.Signature with a signature over v.SignBytes(chainID).
	SignVote(chainID Hash, v *Vote) error
	// SignProposal fills p.Signature with a signature over p.SignBytes(chainID).
	SignProposal(chainID Hash, p *Proposal) error
}

// SignFunc adapts a step-ordered signing function, such as a double-sign guard's
// Sign(height, round, step, signBytes), to Signer. A vote is signed at step
// v.Type.Step(), a proposal at StepPropose.
type SignFunc func(height uint64, round uint32, step RoundStep, signBytes []byte) ([]byte, error)

// SignVote implements Signer.
func (f SignFunc) SignVote(chainID Hash, v *Vote) error {
	sig, err := f(v.Height, v.Round, v.Type.Step(), v.SignBytes(chainID))
	if err != nil {
		return err
	}
	v.Signature = sig
	return nil
}

// SignProposal implements Signer.
func (f SignFunc) SignProposal(chainID Hash, p *Proposal) error {
	sig, err := f(p.Height, p.Round, StepPropose, p.SignBytes(chainID))
	if err != nil {
		return err
	}
	p.Signature = sig
	return nil
}

// TimeoutConfig sets how long each step waits in round r: Base + r*Delta, capped at Max.
// Growing timeouts make the algorithm live once messages arrive within some unknown
// bound; the cap keeps a long outage from leaving rounds minutes long.
type TimeoutConfig struct {
	Propose, ProposeDelta     time.Duration
	Prevote, PrevoteDelta     time.Duration
	Precommit, PrecommitDelta time.Duration
	Max                       time.Duration
}

// DefaultTimeouts is a setting for stations on a wide-area network.
func DefaultTimeouts() TimeoutConfig {
	return TimeoutConfig{
		Propose: 3 * time.Second, ProposeDelta: 500 * time.Millisecond,
		Prevote: time.Second, PrevoteDelta: 500 * time.Millisecond,
		Precommit: time.Second, PrecommitDelta: 500 * time.Millisecond,
		Max: 30 * time.Second,
	}
}

// Duration is the timeout of step in round: base + round*delta, capped at Max.
func (t TimeoutConfig) Duration(step RoundStep, round uint32) time.Duration {
	base, delta := t.Propose, t.ProposeDelta
	switch step {
	case StepPrevote:
		base, delta = t.Prevote, t.PrevoteDelta
	case StepPrecommit:
		base, delta = t.Precommit, t.PrecommitDelta
	}
	if base >= t.Max {
		return t.Max
	}
	if delta > 0 && int64(round) >= int64((t.Max-base)/delta) {
		return t.Max
	}
	return base + time.Duration(round)*delta
}

func (t TimeoutConfig) check() error {
	for _, d := range []struct {
		name string
		v    time.Duration
		min  time.Duration
	}{
		{"Propose", t.Propose, 1}, {"Prevote", t.Prevote, 1}, {"Precommit", t.Precommit, 1},
		{"ProposeDelta", t.ProposeDelta, 0}, {"PrevoteDelta", t.PrevoteDelta, 0}, {"PrecommitDelta", t.PrecommitDelta, 0},
	} {
		if d.v < d.min {
			return fmt.Errorf("%w: Timeouts.%s = %v", ErrInvalidConfig, d.name, d.v)
		}
	}
	if t.Max < t.Propose || t.Max < t.Prevote || t.Max < t.Precommit {
		return fmt.Errorf("%w: Timeouts.Max %v is below a base timeout", ErrInvalidConfig, t.Max)
	}
	return nil
}

// Config configures a Core.
type Config struct {
	// ChainID names the network; it is part of everything signed.
	ChainID Hash
	// Validators is the fixed validator set.
	Validators *ValidatorSet
	// Self is our validator index, or -1 for a non-voting follower.
	Self int
	// Height is the first height to decide: the last committed height + 1 (at least 1).
	Height uint64
	// Timeouts of the three steps.
	Timeouts TimeoutConfig
	// Signer signs our votes and proposals (required unless Self is -1).
	Signer Signer
	// Validate reports whether block is a valid value at height. It must be
	// deterministic: every honest node must reach the same verdict for the same block
	// on top of the same chain. The core calls it at most once per block hash and height.
	Validate func(height uint64, block []byte) error
	// MaxBlockBytes bounds proposed blocks (0 means the protocol limit MaxBlockBytes).
	MaxBlockBytes int
	// WaitForWork makes round 0 of each height wait, without a propose timeout, until
	// there is work: a WorkReady input, our own ProposalValue, or any message of the
	// height from another validator. Later rounds never wait. This keeps an idle
	// network from making empty blocks: the proposer answers NeedProposal only when it
	// has transactions or a heartbeat is due.
	WaitForWork bool
	// KeepDecisions is how many recent decisions the core keeps to serve lagging peers
	// (0 means 16).
	KeepDecisions int
}

func (cfg *Config) check() error {
	if cfg.Validators == nil || cfg.Validators.N() == 0 {
		return fmt.Errorf("%w: no validators", ErrInvalidConfig)
	}
	if _, err := NewValidatorSet(cfg.Validators.Keys); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if cfg.Self < -1 || cfg.Self >= cfg.Validators.N() {
		return fmt.Errorf("%w: Self %d with %d validators", ErrInvalidConfig, cfg.Self, cfg.Validators.N())
	}
	if cfg.Self >= 0 && cfg.Signer == nil {
		return fmt.Errorf("%w: validator %d has no Signer", ErrInvalidConfig, cfg.Self)
	}
	if cfg.Height == 0 {
		return fmt.Errorf("%w: Height must be at least 1", ErrInvalidConfig)
	}
	if cfg.Validate == nil {
		return fmt.Errorf("%w: no Validate function", ErrInvalidConfig)
	}
	if cfg.MaxBlockBytes < 0 || cfg.MaxBlockBytes > MaxBlockBytes {
		return fmt.Errorf("%w: MaxBlockBytes %d not in [0, %d]", ErrInvalidConfig, cfg.MaxBlockBytes, MaxBlockBytes)
	}
	if cfg.KeepDecisions < 0 {
		return fmt.Errorf("%w: KeepDecisions %d", ErrInvalidConfig, cfg.KeepDecisions)
	}
	return cfg.Timeouts.check()
}
