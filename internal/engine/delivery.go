package engine

import (
	"fmt"

	"go.temporal.io/sdk/worker"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/templates"
	"github.com/breach-engine/breach/workflows"
)

// Activities returns the engine's activities: the store, the dossiers and
// letters, the relay and the key that opens contact data.
func (e *Engine) Activities() *activities.Activities {
	return &activities.Activities{
		Store: e.Store, Dossiers: templates.Dossiers{}, Logger: e.Logger,
		Letters: LetterRenderer{}, Mail: e.Mailer, Vault: e.Vault,
		Reminders: ReminderRenderer{}, Reports: templates.Reports{},
		Complementary: ComplementaryOpener{Client: e.Temporal},
		IdP:           e.IdP,
	}
}

// NewDeliveryWorker returns a worker polling the delivery task queue
// (workflows.DeliveryTaskQueue): the SendBatch and SeedLedger activities of
// the people track. Its options bound the sending: MaxConcurrentActivityExecutionSize
// is the number of batches (hence SMTP connections) at once in this process,
// TaskQueueActivitiesPerSecond the batches started per second over the whole
// task queue; each connection also has its messages-per-second limit
// (BREACH_SMTP_RATE).
// Without a Mailer it returns nil: such a worker runs the workflows and leaves
// the sending to workers that have a relay.
func (e *Engine) NewDeliveryWorker() worker.Worker {
	return e.newDeliveryWorker(e.Activities())
}

func (e *Engine) newDeliveryWorker(acts *activities.Activities) worker.Worker {
	if e.Mailer == nil {
		return nil
	}
	opts := e.DeliveryOptions
	if opts.MaxConcurrentActivityExecutionSize == 0 {
		opts.MaxConcurrentActivityExecutionSize = e.Mailer.Config().Connections
	}
	if opts.Identity == "" && acts.Identity != "" {
		opts.Identity = acts.Identity
	}
	// Only activities here: workflow tasks stay on the main task queue.
	opts.DisableWorkflowWorker = true
	w := worker.New(e.Temporal, workflows.DeliveryTaskQueue(e.TaskQueue), opts)
	w.RegisterActivity(acts)
	return w
}

// workerPair is the main worker and the delivery worker (nil without a
// relay), started and stopped together.
type workerPair struct {
	worker.Worker
	delivery worker.Worker
}

func (w *workerPair) Start() error {
	if err := w.Worker.Start(); err != nil {
		return err
	}
	if w.delivery == nil {
		return nil
	}
	if err := w.delivery.Start(); err != nil {
		w.Worker.Stop()
		return fmt.Errorf("engine: start the delivery worker: %w", err)
	}
	return nil
}

func (w *workerPair) Run(interruptCh <-chan any) error {
	if w.delivery != nil {
		if err := w.delivery.Start(); err != nil {
			return fmt.Errorf("engine: start the delivery worker: %w", err)
		}
		defer w.delivery.Stop()
	}
	return w.Worker.Run(interruptCh)
}

func (w *workerPair) Stop() {
	if w.delivery != nil {
		w.delivery.Stop()
	}
	w.Worker.Stop()
}
