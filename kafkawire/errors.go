package kafkawire

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"rewire/storage"
)

// Kafka error codes used by rewire, in one table.
var (
	errUnknownServer            = kerr.UnknownServerError.Code
	errOffsetOutOfRange         = kerr.OffsetOutOfRange.Code
	errCorruptMessage           = kerr.CorruptMessage.Code
	errUnknownTopic             = kerr.UnknownTopicOrPartition.Code
	errMessageTooLarge          = kerr.MessageTooLarge.Code
	errRequestTimedOut          = kerr.RequestTimedOut.Code
	errCoordinatorNotAvail      = kerr.CoordinatorNotAvailable.Code
	errInvalidTopic             = kerr.InvalidTopicException.Code
	errIllegalGeneration        = kerr.IllegalGeneration.Code
	errInconsistentProtocol     = kerr.InconsistentGroupProtocol.Code
	errInvalidGroupID           = kerr.InvalidGroupID.Code
	errUnknownMember            = kerr.UnknownMemberID.Code
	errInvalidSessionTimeout    = kerr.InvalidSessionTimeout.Code
	errRebalanceInProgress      = kerr.RebalanceInProgress.Code
	errUnsupportedSASLMech      = kerr.UnsupportedSaslMechanism.Code
	errIllegalSASLState         = kerr.IllegalSaslState.Code
	errUnsupportedVersion       = kerr.UnsupportedVersion.Code
	errTopicExists              = kerr.TopicAlreadyExists.Code
	errInvalidPartitions        = kerr.InvalidPartitions.Code
	errInvalidReplication       = kerr.InvalidReplicationFactor.Code
	errInvalidRequest           = kerr.InvalidRequest.Code
	errInvalidConfig            = kerr.InvalidConfig.Code
	errOutOfOrderSequence       = kerr.OutOfOrderSequenceNumber.Code
	errInvalidProducerEpoch     = kerr.InvalidProducerEpoch.Code
	errUnsupportedForMessage    = kerr.UnsupportedForMessageFormat.Code
	errSASLAuthFailed           = kerr.SaslAuthenticationFailed.Code
	errFetchSessionNotFound     = kerr.FetchSessionIDNotFound.Code
	errNonEmptyGroup            = kerr.NonEmptyGroup.Code
	errGroupIDNotFound          = kerr.GroupIDNotFound.Code
	errFencedInstanceID         = kerr.FencedInstanceID.Code
	errGroupSubscribedToTopic   = kerr.GroupSubscribedToTopic.Code
	errInvalidRecord            = kerr.InvalidRecord.Code
	kerrUnknownTopicID          = kerr.UnknownTopicID.Code
	errInvalidProducerIDMapping = kerr.InvalidProducerIDMapping.Code
	errProducerFenced           = kerr.ProducerFenced.Code
	errInvalidTxnState          = kerr.InvalidTxnState.Code
	errInvalidTxnTimeout        = kerr.InvalidTransactionTimeout.Code
	errOperationNotAttempted    = kerr.OperationNotAttempted.Code
	kerrUnknownLeaderEpoch      = kerr.UnknownLeaderEpoch.Code
	errRebootstrapRequired      = kerr.RebootstrapRequired.Code
)

// errCode translates a storage error into a Kafka error code; this is the
// one place where core errors become protocol errors.
func errCode(err error) int16 {
	var ke *kerr.Error
	var ce *codedError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ce):
		return ce.code
	case errors.As(err, &ke):
		return ke.Code
	case errors.Is(err, errTopicExistsErr):
		return errTopicExists
	case errors.Is(err, storage.ErrNotFound):
		return errUnknownTopic
	case errors.Is(err, storage.ErrExists):
		return errTopicExists
	case errors.Is(err, storage.ErrOutOfRange):
		return errOffsetOutOfRange
	case errors.Is(err, storage.ErrCorrupt):
		return errCorruptMessage
	case errors.Is(err, storage.ErrTooLarge):
		return errMessageTooLarge
	case errors.Is(err, storage.ErrInvalidArg):
		return errInvalidRequest
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return errRequestTimedOut
	}
	return errUnknownServer
}

// errMsg returns a message pointer for responses that carry one.
func errMsg(err error) *string {
	if err == nil {
		return nil
	}
	s := err.Error()
	return &s
}
