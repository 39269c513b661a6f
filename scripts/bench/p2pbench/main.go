package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"syscall"
	"time"

	"github.com/pouw/pouwd/ml/data"
	"github.com/pouw/pouwd/p2p"
	"github.com/pouw/pouwd/x/pouwml/types"
)

func main() {
	runs := flag.Int("runs", 5, "fetches (best and median reported)")
	quic := flag.Bool("quic", false, "use QUIC instead of TCP")
	rsIters := flag.Int("rs-iters", 30, "erasure iterations")
	flag.Parse()
	if err := run(*runs, *quic, *rsIters); err != nil {
		fmt.Fprintln(os.Stderr, "p2pbench:", err)
		os.Exit(1)
	}
}

func run(runs int, quic bool, rsIters int) error {
	coder := p2p.NewCoder()
	// 1. Reed-Solomon on one core: 10+4 with 1 MiB shards.
	prev := runtime.GOMAXPROCS(1)
	enc, _ := coder.Encoder(10, 4)
	shards := make([][]byte, 14)
	for i := range shards {
		shards[i] = bytes.Repeat([]byte{byte(i*37 + 1)}, 1<<20)
	}
	start, cpu0 := time.Now(), cpuTime()
	for i := 0; i < rsIters; i++ {
		if err := enc.Encode(shards); err != nil {
			return err
		}
		saved := [4][]byte{shards[0], shards[3], shards[6], shards[9]}
		shards[0], shards[3], shards[6], shards[9] = saved[0][:0], saved[1][:0], saved[2][:0], saved[3][:0]
		if err := enc.ReconstructData(shards); err != nil {
			return err
		}
	}
	rs := float64(rsIters) * (10 << 20) / time.Since(start).Seconds() / 1e9
	rsCPU := float64(rsIters) * (10 << 20) / (cpuTime() - cpu0).Seconds() / 1e9
	payload := bytes.Repeat([]byte("pouw"), (10<<20)/4)
	sum := sha256.Sum256(payload)
	start, cpu0 = time.Now(), cpuTime()
	for i := 0; i < rsIters/3+1; i++ {
		e, err := coder.Encode(payload, 10, 4)
		if err != nil {
			return err
		}
		sh := e.Shards
		sh[0], sh[3], sh[6], sh[9] = nil, nil, nil, nil
		if _, _, err := coder.Rebuild(&e.Erasure, sh, sum[:]); err != nil {
			return err
		}
	}
	full := float64(rsIters/3+1) * (10 << 20) / time.Since(start).Seconds() / 1e9
	fullCPU := float64(rsIters/3+1) * (10 << 20) / (cpuTime() - cpu0).Seconds() / 1e9
	runtime.GOMAXPROCS(prev)
	fmt.Printf("rs_encode_rebuild_gbps_per_core %.2f wall, %.2f per cpu-second   (10+4, 1 MiB shards, 4 data shards lost; target >= 1)\n", rs, rsCPU)
	fmt.Printf("rs_verified_pipeline_gbps_per_core %.2f wall, %.2f per cpu-second   (same, plus SHA-256 of every shard and of the rebuilt data)\n", full, fullCPU)

	// 2. Fetch canonical MNIST from 5 loopback peers.
	o, err := data.Options{Kind: data.KindMNIST}.Normalized()
	if err != nil {
		return err
	}
	d, files, err := data.LoadSource(o)
	if err != nil {
		return err
	}
	d, meta, err := data.Build(o, d, files, "")
	if err != nil {
		return err
	}
	canonical, err := d.Encode()
	if err != nil {
		return err
	}
	dsum := sha256.Sum256(canonical)
	e, err := coder.Encode(canonical, 10, 4)
	if err != nil {
		return err
	}
	chain := &p2p.MemChain{}
	id := chain.AddDataset(types.Dataset{Name: meta.Name, Sha256: dsum[:], Erasure: e.Erasure})
	ds, _ := chain.Dataset(context.Background(), id)
	tmp, err := os.MkdirTemp("", "p2pbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	listen := []string{"/ip4/127.0.0.1/tcp/0"}
	if quic {
		listen = []string{"/ip4/127.0.0.1/udp/0/quic-v1"}
	}
	newSvc := func(name string, store bool) (*p2p.Service, error) {
		hc := p2p.DefaultHostConfig("")
		hc.ListenAddrs = listen
		h, err := p2p.NewHost(hc)
		if err != nil {
			return nil, err
		}
		var st *p2p.Store
		if store {
			if st, err = p2p.OpenStore(filepath.Join(tmp, name)); err != nil {
				return nil, err
			}
		}
		svc, err := p2p.NewService(h, p2p.DefaultConfig("pouw-bench"), st, chain)
		if err != nil {
			return nil, err
		}
		if store {
			return svc, svc.Start(context.Background())
		}
		return svc, nil
	}
	var workers []types.Worker
	for i := 0; i < 5; i++ {
		s, err := newSvc(fmt.Sprint("peer", i), true)
		if err != nil {
			return err
		}
		defer s.Host().Close()
		workers = append(workers, types.Worker{Role: types.WORKER_ROLE_STORAGE, Status: types.WORKER_STATUS_BONDED, PeerId: s.Host().ID().String(), Multiaddrs: p2p.HostAddrs(s.Host())})
	}
	chain.SetWorkers(workers)
	ring, err := p2p.NewRing(p2p.PeerIDs(workers), p2p.DefaultRingConfig())
	if err != nil {
		return err
	}
	place, _ := ring.Place(ds.Sha256, 14)
	pub, err := newSvc("publisher", false)
	if err != nil {
		return err
	}
	defer pub.Host().Close()
	p2p.AddWorkerAddrs(pub.Host(), workers)
	ctx := context.Background()
	start = time.Now()
	if err := pub.PushShards(ctx, ds.Id, e.Shards, p2p.PlacementPeers(place), nil); err != nil {
		return err
	}
	fmt.Printf("mnist_push_seconds %.2f   (%d bytes, 14 shards x 2 replicas to 5 peers)\n", time.Since(start).Seconds(), len(canonical))
	var rates []float64
	var fetchCPU time.Duration
	for r := 0; r < runs; r++ {
		cl, err := newSvc("client", false) // a fresh node each run: dials included
		if err != nil {
			return err
		}
		all := p2p.AddWorkerAddrs(cl.Host(), workers)
		t0, c0 := time.Now(), cpuTime()
		out, _, err := cl.FetchDataset(ctx, coder, ds, p2p.RingSources(p2p.PlacementPeers(place), ds, all), p2p.FetchOptions{})
		el := time.Since(t0)
		fetchCPU += cpuTime() - c0
		cl.Host().Close()
		if err != nil {
			return err
		}
		if !bytes.Equal(out, canonical) {
			return fmt.Errorf("fetched bytes differ")
		}
		rates = append(rates, float64(len(out))/el.Seconds()/1e6)
	}
	sort.Float64s(rates)
	tr := "tcp"
	if quic {
		tr = "quic"
	}
	fmt.Printf("mnist_fetch_cpu_seconds_per_run %.2f   (all 5 servers and the client are in this process)\n", fetchCPU.Seconds()/float64(runs))
	fmt.Printf("mnist_fetch_mbps_best %.0f   median %.0f   (%s, %d runs, fresh client each run; target >= 100)\n", rates[len(rates)-1], rates[len(rates)/2], tr, runs)
	return nil
}

// cpuTime is the process's user + system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
