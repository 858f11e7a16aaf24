package process

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// maxLogLine is the longest line written as one log entry; longer lines are
// split into partial ("P") entries, as containerd does.
const maxLogLine = 16 * 1024

// criLog appends entries in the CRI log format to a container's log file:
// "<RFC3339Nano time> <stream> <F|P> <content>\n".
type criLog struct {
	now func() time.Time
	mu  sync.Mutex
	f   *os.File
}

func openCRILog(path string, now func() time.Time) (*criLog, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open log file: %w", err)
	}
	return &criLog{now: now, f: f}, nil
}

func (l *criLog) write(stream string, partial bool, content []byte) {
	tag := "F"
	if partial {
		tag = "P"
	}
	var b bytes.Buffer
	b.Grow(len(content) + 64)
	b.WriteString(l.now().UTC().Format(time.RFC3339Nano))
	b.WriteByte(' ')
	b.WriteString(stream)
	b.WriteByte(' ')
	b.WriteString(tag)
	b.WriteByte(' ')
	b.Write(content)
	b.WriteByte('\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.f.Write(b.Bytes())
}

func (l *criLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// fanout copies a container's output to the clients attached to it.
type fanout struct {
	mu   sync.Mutex
	subs map[int]*subscriber
	next int
}

type subscriber struct {
	stdout, stderr io.Writer
	failed         chan struct{} // closed when a write to the client failed
	once           sync.Once
}

func newFanout() *fanout { return &fanout{subs: map[int]*subscriber{}} }

// subscribe adds a client; the returned function removes it.
func (f *fanout) subscribe(stdout, stderr io.Writer) (*subscriber, func()) {
	s := &subscriber{stdout: stdout, stderr: stderr, failed: make(chan struct{})}
	f.mu.Lock()
	id := f.next
	f.next++
	f.subs[id] = s
	f.mu.Unlock()
	return s, func() {
		f.mu.Lock()
		delete(f.subs, id)
		f.mu.Unlock()
	}
}

func (f *fanout) write(stream string, p []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, s := range f.subs {
		w := s.stdout
		if stream == "stderr" {
			w = s.stderr
		}
		if w == nil {
			continue
		}
		if _, err := w.Write(p); err != nil {
			delete(f.subs, id)
			s.once.Do(func() { close(s.failed) })
		}
	}
}

// copyOutput reads one output stream of a container until EOF, writing
// whole lines to the log and raw bytes to attached clients.
func copyOutput(r io.Reader, stream string, log *criLog, fan *fanout) {
	buf := make([]byte, 32*1024)
	var pending []byte
	for {
		n, err := r.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			fan.write(stream, chunk)
			pending = append(pending, chunk...)
			for {
				i := bytes.IndexByte(pending, '\n')
				if i >= 0 && i <= maxLogLine {
					log.write(stream, false, pending[:i])
					pending = pending[i+1:]
				} else if len(pending) > maxLogLine {
					log.write(stream, true, pending[:maxLogLine])
					pending = pending[maxLogLine:]
				} else {
					break
				}
			}
			pending = append([]byte(nil), pending...)
		}
		if err != nil {
			if len(pending) > 0 {
				log.write(stream, false, pending)
			}
			return
		}
	}
}
