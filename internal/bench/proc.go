package bench

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// peakSampler follows the memory of a Terraform process and of the provider
// plugins it starts. Linux keeps each process's peak resident set size as
// VmHWM in /proc/PID/status; the sampler reads it every interval while the
// process lives and keeps the largest value seen per kind. A plugin's growth
// in the last interval before it exits can be missed, so the figure is a
// lower bound, within one interval of allocation.
type peakSampler struct {
	root     int
	interval time.Duration
	stop     chan struct{}
	done     chan struct{}

	mu        sync.Mutex
	terraform int64 // bytes
	provider  int64 // bytes, the largest provider plugin process
	kinds     map[int]bool
}

func startPeakSampler(pid int, interval time.Duration) *peakSampler {
	s := &peakSampler{root: pid, interval: interval, stop: make(chan struct{}), done: make(chan struct{}), kinds: map[int]bool{}}
	go s.loop()
	return s
}

// Stop ends sampling and returns the peaks in bytes: Terraform's own and the
// largest provider plugin's.
func (s *peakSampler) Stop() (terraform, provider int64) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.terraform, s.provider
}

func (s *peakSampler) loop() {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		s.sample()
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}

func (s *peakSampler) sample() {
	tf := vmHWM(s.root)
	var prov int64
	for _, pid := range childPIDs(s.root) {
		isProvider, known := s.kinds[pid]
		if !known {
			exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
			if err != nil {
				continue
			}
			isProvider = strings.HasPrefix(filepath.Base(exe), "terraform-provider-")
			s.kinds[pid] = isProvider
		}
		if isProvider {
			prov = max(prov, vmHWM(pid))
		}
	}
	s.mu.Lock()
	s.terraform = max(s.terraform, tf)
	s.provider = max(s.provider, prov)
	s.mu.Unlock()
}

// vmHWM is a process's peak resident set size in bytes, 0 when unknown.
func vmHWM(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	return statusKiB(b, "VmHWM:") * 1024
}

// statusKiB reads a "Name:   123 kB" line of /proc/PID/status or /proc/meminfo.
func statusKiB(b []byte, name string) int64 {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, name); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// childPIDs lists a process's children from /proc/PID/task/*/children, or,
// on kernels without that file, by scanning every process's parent.
func childPIDs(pid int) []int {
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	if len(tasks) > 0 {
		var out []int
		for _, f := range tasks {
			b, err := os.ReadFile(f) //nolint:gosec // A /proc file of a child process.
			if err != nil {
				continue
			}
			for _, field := range strings.Fields(string(b)) {
				if n, err := strconv.Atoi(field); err == nil {
					out = append(out, n)
				}
			}
		}
		return out
	}
	var out []int
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f) //nolint:gosec // A /proc file.
		if err != nil {
			continue
		}
		// The command name, in parentheses, may hold spaces: fields count
		// from after its closing parenthesis.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(b[i+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			if n, err := strconv.Atoi(filepath.Base(filepath.Dir(f))); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// Machine describes where a benchmark ran.
type Machine struct {
	CPUModel    string  `json:"cpu_model"`
	Cores       int     `json:"cores"`
	MemoryBytes int64   `json:"memory_bytes"`
	OS          string  `json:"os"`
	Kernel      string  `json:"kernel"`
	LoadBefore  float64 `json:"load_average_before"`
	LoadAfter   float64 `json:"load_average_after"`
	Note        string  `json:"note,omitempty"`
}

func readMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, CPUModel: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		m.MemoryBytes = statusKiB(b, "MemTotal:") * 1024
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.LoadBefore = loadAverage()
	return m
}

// loadAverage is the one-minute load average, which says how much else the
// machine was doing.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
