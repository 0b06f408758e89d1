package main

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

// Server is the key-value service under test: one request line in, one
// reply line out, many requests per connection. Its methods are safe for
// concurrent use.
type Server struct {
	ln    net.Listener
	data  map[string]string
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// StartServer serves on addr (use 127.0.0.1:0 for a free port) until Close.
func StartServer(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{ln: ln, data: map[string]string{}, conns: map[net.Conn]struct{}{}}
	for i := range 100 {
		s.data[fmt.Sprintf("key%d", i)] = fmt.Sprintf("value-%d", i)
	}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is the address the server listens on (host:port).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server, closes every connection and waits for them.
func (s *Server) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c)
	}
}

func (s *Server) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	rd := bufio.NewScanner(c)
	w := bufio.NewWriter(c)
	for rd.Scan() {
		fmt.Fprintln(w, s.reply(rd.Text()))
		if w.Flush() != nil {
			return
		}
	}
}

func (s *Server) reply(line string) string {
	cmd, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	switch strings.ToUpper(cmd) {
	case "PING":
		return "PONG"
	case "GET":
		if v, ok := s.data[arg]; ok { // data is only read after start
			return "VALUE " + v
		}
		return "ERR no such key"
	case "SLOW":
		time.Sleep(50 * time.Millisecond)
		return "OK"
	case "FAIL":
		return "ERR failed on purpose"
	}
	return "ERR unknown command " + cmd
}
