package cli

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Interrupts (SIGINT, SIGTERM) are handled in three stages:
//
//  1. The first cancels the command's context: commands stop, and a migration that has changed
//     something rolls back (in a context of its own).
//  2. The second is delivered to the command through SecondInterrupt: a migration stops waiting
//     for its rollback, keeps its journal on the workload and prints how to recover
//     (`runnet migrate --resume WORKLOAD`, or `--resume --rollback`). If the process is still
//     running InterruptGrace later, it exits with status 130.
//  3. A third exits at once with status 130.

// InterruptGrace is how long runnet may take, after a second interrupt, to report and exit.
const InterruptGrace = 10 * time.Second

// ExitInterrupted is the exit status when runnet is stopped by repeated interrupts
// (128 + SIGINT, as shells report it).
const ExitInterrupted = 130

type secondInterruptKey struct{}

// SecondInterrupt returns a channel that is closed when a second interrupt arrives, or nil when
// ctx does not come from WithInterrupts. The channel survives the cancellation of ctx (and
// context.WithoutCancel), so a rollback can watch it.
func SecondInterrupt(ctx context.Context) <-chan struct{} {
	ch, _ := ctx.Value(secondInterruptKey{}).(chan struct{})
	return ch
}

// WithInterrupts returns a context that is cancelled at the first value received on sigs and
// that carries the second (see SecondInterrupt); a third calls exit(ExitInterrupted), and so
// does the end of InterruptGrace after the second. stop releases the watcher.
func WithInterrupts(parent context.Context, sigs <-chan os.Signal, exit func(int)) (ctx context.Context, stop func()) {
	second := make(chan struct{})
	ctx, cancel := context.WithCancel(context.WithValue(parent, secondInterruptKey{}, second))
	done := make(chan struct{})
	go func() {
		n := 0
		var grace <-chan time.Time
		for {
			select {
			case <-done:
				return
			case <-grace:
				exit(ExitInterrupted)
				return
			case <-sigs:
				n++
				switch n {
				case 1:
					cancel()
				case 2:
					close(second)
					grace = time.After(InterruptGrace)
				default:
					exit(ExitInterrupted)
					return
				}
			}
		}
	}()
	return ctx, func() {
		close(done)
		cancel()
	}
}

// NotifyInterrupts is WithInterrupts on the process's SIGINT and SIGTERM.
func NotifyInterrupts(parent context.Context) (context.Context, func()) {
	sigs := make(chan os.Signal, 3)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	ctx, stop := WithInterrupts(parent, sigs, os.Exit)
	return ctx, func() {
		signal.Stop(sigs)
		stop()
	}
}

// rollbackContext is the context a migration's rollback runs in: it outlives the command's
// cancellation (the first interrupt) for at most timeout, and ends at a second interrupt.
func rollbackContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	if second := SecondInterrupt(ctx); second != nil {
		go func() {
			select {
			case <-second:
				cancel()
			case <-rctx.Done():
			}
		}()
	}
	return rctx, cancel
}
