// Prints every container death on the Crowsnest bus with its exit code, from any host:
//
//	2026-11-21T20:15:00.123Z node-1 web exit_code=137 oom_killed=true
//
// It subscribes to <prefix>.v1.events.*.*.container.die with plain (core) NATS: it sees deaths
// while it runs; examples/node-durable-consumer shows how to catch up on what happened while a
// program was away. The payload is the `event` message of the bus contract
// (contract/schemas/event.json); fields this program does not know are ignored, as v1 requires.
//
// Environment: NATS_URL (default nats://127.0.0.1:4222), CROWSNEST_SUBJECT_PREFIX (default
// crowsnest). -count N exits after N deaths.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/nats-io/nats.go"
)

// The fields of the `event` message this program uses; null values decode as nil pointers.
type event struct {
	Host      string `json:"host"`
	Action    string `json:"action"`
	Timestamp string `json:"ts"`
	Actor     struct {
		Name string `json:"name"`
	} `json:"actor"`
	ExitCode  *int  `json:"exit_code"`
	OOMKilled *bool `json:"oom_killed"`
}

func getenv(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}

func orUnknown[T any](value *T) string {
	if value == nil {
		return "unknown"
	}
	return fmt.Sprint(*value)
}

func main() {
	count := flag.Int("count", 0, "exit after this many deaths (0: run until interrupted)")
	flag.Parse()
	url := getenv("NATS_URL", nats.DefaultURL)
	subject := getenv("CROWSNEST_SUBJECT_PREFIX", "crowsnest") + ".v1.events.*.*.container.die"

	nc, err := nats.Connect(url, nats.Name("crowsnest-deaths-example"), nats.MaxReconnects(-1))
	if err != nil {
		log.Fatalf("connecting to %s: %v", url, err)
	}
	defer nc.Drain()

	deaths := make(chan *nats.Msg, 64)
	if _, err := nc.ChanSubscribe(subject, deaths); err != nil {
		log.Fatalf("subscribing to %s: %v", subject, err)
	}
	if err := nc.Flush(); err != nil {
		log.Fatalf("flushing the subscription: %v", err)
	}
	log.Printf("listening on %s", subject)

	interrupted := make(chan os.Signal, 1)
	signal.Notify(interrupted, syscall.SIGINT, syscall.SIGTERM)
	printed := 0
	for {
		select {
		case <-interrupted:
			return
		case message := <-deaths:
			var death event
			if err := json.Unmarshal(message.Data, &death); err != nil {
				log.Printf("skipping a message on %s that is not JSON: %v", message.Subject, err)
				continue
			}
			fmt.Printf("%s %s %s exit_code=%s oom_killed=%s\n", death.Timestamp, death.Host,
				death.Actor.Name, orUnknown(death.ExitCode), orUnknown(death.OOMKilled))
			printed++
			if *count > 0 && printed >= *count {
				return
			}
		}
	}
}
